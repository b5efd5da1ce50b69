"""An LSTM run over a whole sequence, with a hand-written backward pass.

The recurrent learners (R2D2, Agent57) spend most of an update in the LSTM's backward pass.
Differentiating ``lax.scan`` over a cell makes every backward step do four small matrix
products (the gradients of both kernels, of the input and of the previous state). Only the
last depends on the step before; the others are sums over time. This backward scan does that
one product per step, and the kernel gradients and the input's gradient become one large
product each over all ``T * B`` steps afterwards (as cuDNN's LSTM does). It is the same
gradient, tested against autodiff of the cell. With autodiff the backward took about three
quarters of the LSTM's time in Agent57's update on CPU (``docs/agent57_log.md``).

The parameters are those of ``flax.linen.OptimizedLSTMCell`` (``ii, if, ig, io`` input
kernels, ``hi, hf, hg, ho`` recurrent kernels with the biases), gates in the order i, f, g, o:
``c' = sigmoid(f) c + sigmoid(i) tanh(g)``, ``h' = sigmoid(o) tanh(c')`` (Hochreiter and
Schmidhuber 1997, with the forget gate of Gers et al. 2000).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import jax
import jax.numpy as jnp

GATES = "ifgo"
"""The gates' order in the stacked kernels (flax's)."""


def stacked_weights(cell_params: Mapping[str, Any]) -> tuple[jax.Array, jax.Array, jax.Array]:
    """A flax LSTM cell's parameters -> (input kernel [E, 4H], recurrent kernel [H, 4H],
    bias [4H]), the gates stacked in the order i, f, g, o."""
    w_in = jnp.concatenate([cell_params[f"i{g}"]["kernel"] for g in GATES], axis=-1)
    w_rec = jnp.concatenate([cell_params[f"h{g}"]["kernel"] for g in GATES], axis=-1)
    bias = jnp.concatenate([cell_params[f"h{g}"]["bias"] for g in GATES], axis=-1)
    return w_in, w_rec, bias


def _gates(z: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array, jax.Array]:
    zi, zf, zg, zo = jnp.split(z, 4, axis=-1)
    return jax.nn.sigmoid(zi), jax.nn.sigmoid(zf), jnp.tanh(zg), jax.nn.sigmoid(zo)


def _forward(
    w_in: jax.Array,
    w_rec: jax.Array,
    bias: jax.Array,
    inputs: jax.Array,
    c0: jax.Array,
    h0: jax.Array,
    keep: bool,
) -> tuple[jax.Array, jax.Array, jax.Array, tuple[jax.Array, ...]]:
    """The scan; with ``keep`` also what the backward pass needs at every step."""

    def body(carry: tuple[jax.Array, jax.Array], x: jax.Array) -> tuple[Any, Any]:
        c, h = carry
        i, f, g, o = _gates(x @ w_in + h @ w_rec + bias)
        c = f * c + i * g
        tanh_c = jnp.tanh(c)
        h = o * tanh_c
        saved = (h, c, jnp.concatenate([i, f, g, o], axis=-1), tanh_c) if keep else h
        return (c, h), saved

    (c_last, h_last), saved = jax.lax.scan(body, (c0, h0), inputs)
    if keep:
        return saved[0], c_last, h_last, saved
    return saved, c_last, h_last, ()


@jax.custom_vjp
def lstm_sequence(
    w_in: jax.Array,
    w_rec: jax.Array,
    bias: jax.Array,
    inputs: jax.Array,
    c0: jax.Array,
    h0: jax.Array,
) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Time-major inputs ``[T, B, E]`` from ``(c0, h0)`` ``[B, H]`` -> (outputs h_1..h_T
    ``[T, B, H]``, final c, final h)."""
    outputs, c_last, h_last, _ = _forward(w_in, w_rec, bias, inputs, c0, h0, keep=False)
    return outputs, c_last, h_last


def _lstm_sequence_fwd(
    w_in: jax.Array,
    w_rec: jax.Array,
    bias: jax.Array,
    inputs: jax.Array,
    c0: jax.Array,
    h0: jax.Array,
) -> tuple[tuple[jax.Array, jax.Array, jax.Array], tuple[Any, ...]]:
    outputs, c_last, h_last, saved = _forward(w_in, w_rec, bias, inputs, c0, h0, keep=True)
    _, cs, gates, tanh_cs = saved
    return (outputs, c_last, h_last), (w_in, w_rec, inputs, c0, h0, outputs, cs, gates, tanh_cs)


def _lstm_sequence_bwd(
    residuals: tuple[Any, ...], cotangents: tuple[jax.Array, jax.Array, jax.Array]
) -> tuple[jax.Array, ...]:
    w_in, w_rec, inputs, c0, h0, outputs, cs, gates, tanh_cs = residuals
    d_outputs, d_c_last, d_h_last = cotangents
    c_prev = jnp.concatenate([c0[None], cs[:-1]], axis=0)
    w_rec_t = w_rec.T

    def body(carry: tuple[jax.Array, jax.Array], step: tuple[jax.Array, ...]) -> tuple[Any, Any]:
        dh_next, dc_next = carry
        dh_out, gate, tanh_c, c_before = step
        i, f, g, o = jnp.split(gate, 4, axis=-1)
        dh = dh_out + dh_next
        dc = dc_next + dh * o * (1.0 - tanh_c * tanh_c)
        dz = jnp.concatenate(
            [
                dc * g * i * (1.0 - i),
                dc * c_before * f * (1.0 - f),
                dc * i * (1.0 - g * g),
                dh * tanh_c * o * (1.0 - o),
            ],
            axis=-1,
        )
        return (dz @ w_rec_t, dc * f), dz

    (dh0, dc0), dzs = jax.lax.scan(
        body, (d_h_last, d_c_last), (d_outputs, gates, tanh_cs, c_prev), reverse=True
    )
    h_prev = jnp.concatenate([h0[None], outputs[:-1]], axis=0)
    d_w_rec = jnp.einsum("tbh,tbz->hz", h_prev, dzs)
    d_w_in = jnp.einsum("tbe,tbz->ez", inputs, dzs)
    d_bias = jnp.sum(dzs, axis=(0, 1))
    d_inputs = dzs @ w_in.T
    return d_w_in, d_w_rec, d_bias, d_inputs, dc0, dh0


lstm_sequence.defvjp(_lstm_sequence_fwd, _lstm_sequence_bwd)
