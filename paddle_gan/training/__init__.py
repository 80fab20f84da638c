"""The run: its coordinator (run.Run), run directory, checkpoints, the training loop,
--restarts and the VisualDL log.

May import every other part of paddle_gan."""
