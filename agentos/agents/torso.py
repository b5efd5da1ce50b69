"""The Nature-DQN convolutional torso shared by the Q-networks, and when to use it.

Mnih et al. (2015), "Human-level control through deep reinforcement learning", Methods:
32 filters 8x8 stride 4, 64 filters 4x4 stride 2, 64 filters 3x3 stride 1, each followed by
a ReLU, on [H, W, C] uint8 frames scaled by 1/255. R2D2 and Agent57 use the same torso.
"""

from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

MIN_IMAGE_SIZE = 36
"""The smallest height and width the three convolutions leave at least one pixel of."""


def is_image_space(space: Any) -> bool:
    """Whether ``space`` is an [H, W, C] uint8 Box large enough for the conv torso.

    Smaller grids (MiniGrid's 7x7 symbolic view) go through the MLP torso instead.
    """
    import gymnasium

    return (
        isinstance(space, gymnasium.spaces.Box)
        and len(space.shape) == 3
        and np.dtype(space.dtype) == np.uint8
        and min(space.shape[:2]) >= MIN_IMAGE_SIZE
    )


def flat_float(observation: jax.Array) -> jax.Array:
    """``[B, ...]`` observations -> ``[B, F]`` float32; uint8 images are scaled to ``[0, 1]``."""
    x = jnp.reshape(observation, (observation.shape[0], -1))
    if x.dtype == jnp.uint8:
        return x.astype(jnp.float32) / 255.0
    return x.astype(jnp.float32)


def nature_conv_layers() -> list[nn.Conv]:
    """The three convolutions (inside a module's ``setup`` or ``@nn.compact`` call)."""
    return [
        nn.Conv(32, (8, 8), strides=(4, 4), padding="VALID"),
        nn.Conv(64, (4, 4), strides=(2, 2), padding="VALID"),
        nn.Conv(64, (3, 3), strides=(1, 1), padding="VALID"),
    ]


def conv_features(convs: list[nn.Conv], observation: jax.Array) -> jax.Array:
    """[B, H, W, C] uint8 frames -> [B, F] features of the convolutions (ReLU after each)."""
    x = observation.astype(jnp.float32) / 255.0
    for conv in convs:
        x = nn.relu(conv(x))
    return jnp.reshape(x, (observation.shape[0], -1))


def check_conv_input(space: Any) -> None:
    """Raise IncompatibleSpaceError unless ``space`` holds images the conv torso takes."""
    from agentos.errors import IncompatibleSpaceError

    shape = tuple(space.shape)
    if len(shape) != 3 or min(shape[:2]) < MIN_IMAGE_SIZE:
        raise IncompatibleSpaceError(
            f"the conv torso takes [H, W, C] images of at least {MIN_IMAGE_SIZE}x"
            f"{MIN_IMAGE_SIZE}; observations have shape {shape}",
            fix="set network.torso to mlp or auto",
        )


def action_kind(action_space: Any) -> str:
    """ " (continuous)" or " (integer-valued)" after a Box in a refusal; "" for other spaces."""
    import gymnasium

    from agentos.envs.actions import integer_box

    if not isinstance(action_space, gymnasium.spaces.Box):
        return ""
    return " (integer-valued)" if integer_box(action_space) else " (continuous)"


def discrete_actions_fix(action_space: Any) -> str:
    """The fix for a Q-network given non-Discrete actions: for a Box, the wrapper that bins it."""
    import gymnasium

    from agentos.envs.actions import integer_box, joint_sizes

    if isinstance(action_space, gymnasium.spaces.Box) and not integer_box(action_space):
        return (
            "bin the continuous actions with gymnasium's DiscretizeAction wrapper: -p "
            "'environment.wrappers=[{wrapper: DiscretizeAction, kwargs: {bins: 5}}]' "
            "(for one command; `agentos install gym:ID -p ...` with the same value writes it "
            "to agentos.yaml for every command), or use a discrete-action environment "
            "(cartpole, lunar_lander, Atari)"
        )
    bundles = (
        f"none of the builtin bundles ({Q_BUNDLES}) acts in {action_space}: they output one "
        "value per action of a Discrete space"
    )
    sizes = joint_sizes(action_space)
    if sizes is not None:
        count = int(np.prod(sizes, dtype=np.float64))
        return (
            f"{bundles}. Number its {count:,} joint actions as one Discrete({count}) with "
            "agentos's JointDiscreteActions wrapper: -p 'environment.wrappers=[agentos.envs."
            "actions.JointDiscreteActions]' (for one command; set it in the environment's "
            "params to keep it), or act with the random actor of `agentos init`"
        )
    return (
        f"{bundles}. Add a wrapper of your own that makes the actions one Discrete space "
        "(environment.params.wrappers: [my_wrappers.py:MyActions]), or use a "
        "discrete-action environment (cartpole, lunar_lander, Atari)"
    )


Q_BUNDLES = "dqn, r2d2, agent57, cql, bc, r2d2_cql"
"""The builtin bundles, every one a Q-learner over Discrete actions."""
