"""paddle-gan: the PaddlePaddle InfoGAN article's GANs as static-graph Programs sharing named parameters.

Importing the package or any of its modules sets nothing up: a process that runs Paddle
through it calls :func:`paddle_gan.runtime.configure` first, before Paddle is imported.
"""
