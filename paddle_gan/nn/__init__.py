"""The papers' networks, losses and image warps, written against static.Layers.

Imports static/ and the top-level modules."""
