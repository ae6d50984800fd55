"""Matrix: matrix-nio in front of the shared core."""

from adapters.matrix.adapter import MatrixAdapter, MatrixSettings

__all__ = ["MatrixAdapter", "MatrixSettings"]
