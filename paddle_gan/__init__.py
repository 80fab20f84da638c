"""paddle-gan: the PaddlePaddle InfoGAN article's GANs as static-graph Programs sharing named parameters.

Importing the package quiets Paddle's start-up chatter (C++ INFO logs, a ccache notice) unless
the user chose otherwise through GLOG_minloglevel; it must therefore come before ``import paddle``.
"""
import os
import warnings

os.environ.setdefault("GLOG_minloglevel", "2")
warnings.filterwarnings("ignore", message="No ccache found")
warnings.filterwarnings("ignore", message=".*'place' interface for pir graph mode")
