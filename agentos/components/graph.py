"""The dependency graph: validated before anything is built, then built in topological
order. A component several others depend on (a network shared by actor and learner) is
built once and passed to each of them.
"""

from __future__ import annotations

import dataclasses
import inspect
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from agentos.components.compatibility import check_compatibility
from agentos.components.params import (
    apply_defaults,
    apply_overrides,
    build_params,
    declared_defaults,
    resolve_references,
)
from agentos.components.roles import ROLES, BuildContext
from agentos.components.sections import loop_params_class
from agentos.components.spec import AgentSpec, ComponentSpec
from agentos.errors import AgentOSError, GraphError, IncompatibleSpaceError, ParameterError

log = logging.getLogger(__name__)

LOOP_KEY = "loop"


@dataclass(frozen=True)
class Node:
    """A component ready to be built: its class, typed params and resolved dependencies."""

    spec: ComponentSpec
    cls: Any  # a component class: declares role, Params and (optionally) spaces/check_spaces
    params: Any
    dependencies: Mapping[str, str]
    """{constructor argument: component name}."""

    @property
    def role(self) -> str:
        """The role the class declares."""
        return self.cls.role


@dataclass
class BuiltAgent:
    """Instances of every component, by name and by role."""

    components: dict[str, Any]
    roles: dict[str, str]
    """{component name: role}."""

    def one(self, role: str) -> Any:
        """The single component with ``role`` (None if there is none)."""
        for name, r in self.roles.items():
            if r == role:
                return self.components[name]
        return None

    def close(self) -> None:
        """Close every component (in reverse build order)."""
        for comp in reversed(list(self.components.values())):
            comp.close()

    def close_quietly(self) -> None:
        """Close what was built before a failed build, keeping the failure as the error."""
        for comp in reversed(list(self.components.values())):
            try:
                comp.close()
            except Exception as e:  # the build's own error is the one to report
                log.debug("closing %s after a failed build: %s", type(comp).__name__, e)


@dataclass(frozen=True)
class AgentGraph:
    """A validated agent: nodes in build order, parameter tree, spaces, loop params."""

    spec: AgentSpec
    nodes: tuple[Node, ...]
    param_tree: Mapping[str, Mapping[str, Any]]
    """Resolved parameter values as written/overridden, with the spec's ``defaults:`` applied
    (before dataclass defaults)."""
    loop: Any
    observation_space: Any
    action_space: Any
    num_envs: int
    time_limit_ends_task: bool = False

    def node(self, role: str) -> Node | None:
        """The node with ``role``."""
        return next((n for n in self.nodes if n.role == role), None)

    def full_params(self) -> dict[str, dict[str, Any]]:
        """Every parameter with defaults filled in: {component: {param: value}}."""
        out = {n.spec.name: _as_dict(n.params) for n in self.nodes}
        out[LOOP_KEY] = _as_dict(self.loop)
        return out

    def context(self, node: Node, seed: int, salt: str = "") -> BuildContext:
        """The BuildContext for ``node``."""
        return BuildContext(
            name=node.spec.name + salt,
            seed=seed,
            agent_dir=self.spec.agent_dir,
            observation_space=self.observation_space,
            action_space=self.action_space,
            num_envs=self.num_envs,
            time_limit_ends_task=self.time_limit_ends_task,
        )

    def build(self, seed: int) -> BuiltAgent:
        """Instantiate every component once, dependencies first."""
        built: dict[str, Any] = {}
        try:
            for node in self.nodes:
                deps = {arg: built[name] for arg, name in node.dependencies.items()}
                built[node.spec.name] = _construct(node, self.context(node, seed), deps, self.spec)
                _check_fits(node, built[node.spec.name], self.spec)
        except BaseException:
            BuiltAgent(built, {}).close_quietly()
            raise
        return BuiltAgent(built, {n.spec.name: n.role for n in self.nodes})

    def build_one(self, role: str, seed: int, salt: str) -> Any:
        """A fresh, separately seeded instance of a dependency-free component (eval env)."""
        node = self.node(role)
        if node is None or node.dependencies:
            raise GraphError(f"cannot build a separate '{role}'")
        return _construct(node, self.context(node, seed, salt), {}, self.spec)


def _as_dict(params: Any) -> dict[str, Any]:
    return dataclasses.asdict(params) if dataclasses.is_dataclass(params) else {}  # type: ignore[arg-type]


def _construct(node: Node, context: BuildContext, deps: dict[str, Any], spec: AgentSpec) -> Any:
    try:
        return node.cls(node.params, context, **deps)
    except AgentOSError as e:
        if e.where is None:
            raise type(e)(str(e), where=f"{spec.path}: {node.spec.where}") from None
        raise
    except Exception as e:
        if node.spec.source == "builtin":
            raise
        # User code (a local module or a git checkout): name the file, the class, the error.
        module = node.spec.module or "?"
        raise GraphError(
            f"{node.cls.__name__}(...) in {module} raised {type(e).__name__}: {e}",
            where=f"{spec.path}: {node.spec.where}",
            fix=f"fix {node.cls.__name__}.__init__ in {module} (run with --debug for the "
            "traceback)",
        ) from e


def _check_fits(node: Node, component: Any, spec: AgentSpec) -> None:
    """A network's ``check_fits`` (will its arrays fit in memory?), before anything
    initialises it; its error names the entry."""
    check = getattr(component, "check_fits", None) if node.role == "network" else None
    if not callable(check):
        return
    try:
        check()
    except AgentOSError as e:
        if e.where is None:
            raise type(e)(
                str(e).split("\nFix:")[0], where=f"{spec.path}: {node.spec.where}", fix=e.fix
            ) from None
        raise


def load_graph(spec: AgentSpec, overrides: list[str] | None = None) -> AgentGraph:
    """Load classes, resolve parameters and validate the graph; builds nothing."""
    from agentos.components.checks import check_loop_params
    from agentos.components.integrity import verify_builtins
    from agentos.components.sources import load_component_class

    where_file = str(spec.path)
    if not spec.components:
        raise GraphError(
            "the spec has no components",
            where=f"{where_file}: components",
            fix="install some: agentos install dqn cartpole",
        )
    verify_builtins(spec.components, spec.agent_dir, spec.path)
    classes = {name: load_component_class(c, spec.agent_dir) for name, c in spec.components.items()}
    for name, cls in classes.items():
        role = getattr(cls, "role", None)
        if role not in ROLES:
            raise GraphError(
                f"class {cls.__name__} is not an agentos component"
                + (f" (its role {role!r} is not one of {', '.join(ROLES)})" if role else ""),
                where=f"{where_file}: components.{name}.class",
                fix="subclass one of agentos.runtime.roles (Environment, Actor, Learner, ...), "
                "or gymnasium.Env for an environment",
            )
        written_role = spec.components[name].role
        if written_role is not None and written_role != role:
            raise GraphError(
                f"the entry says role '{written_role}', but its class {cls.__name__} plays the "
                f"role {role}",
                where=f"{where_file}: components.{name}.role",
                fix=f"write `role: {role}` (or remove the `role:` line: the class decides), or "
                f"name a {written_role} class in components.{name}.class",
            )

    # Before parameters: a component of another agent can fail them for that reason alone
    # (the uniform replay's ${learner.gamma} under an R2D2 learner).
    dependencies = {name: _dependencies(spec, name, classes) for name in spec.components}
    order = _topological_order(dependencies, where_file)
    check_compatibility(classes, dependencies, where_file)

    tree = {name: dict(c.params) for name, c in spec.components.items()}
    tree[LOOP_KEY] = dict(spec.loop)
    tree = apply_overrides(tree, overrides)
    params_classes = {name: getattr(cls, "Params", None) for name, cls in classes.items()}
    loop_params = loop_params_class()  # registered by the runtime (components.sections)
    params_classes[LOOP_KEY] = loop_params
    tree = apply_defaults(tree, spec.defaults, params_classes)
    declared = {name: declared_defaults(cls) for name, cls in params_classes.items()}
    written = tree
    tree = resolve_references(tree, where_file, declared)

    nodes = []
    for name in order:
        cls = classes[name]
        where = f"{where_file}: components.{name}"
        try:
            _check_written(getattr(cls, "Params", None), tree[name], where)
            params = build_params(cls.Params, tree[name], f"{where}.params")  # type: ignore[attr-defined]
        except ParameterError as e:
            e = _blame_the_reference(e, name, written[name], tree[name])
            raise _blame_the_source(e, name, overrides, spec, where_file) from None
        nodes.append(Node(spec.components[name], cls, params, dependencies[name]))
    loop = build_params(loop_params, tree[LOOP_KEY], f"{where_file}: loop")
    check_loop_params(loop, f"{where_file}: loop")

    for role in ("environment", "actor"):
        found = [n.spec.name for n in nodes if n.role == role]
        if len(found) != 1:
            what = "none" if not found else f"{len(found)} ({', '.join(found)})"
            raise GraphError(
                f"an agent needs exactly one {role}, the spec has {what}",
                where=f"{where_file}: components",
                fix=f"install one, e.g. agentos install {_EXAMPLE[role]}"
                if not found
                else f"uninstall all but one {role}",
            )
    env_node = next(n for n in nodes if n.role == "environment")
    try:
        obs_space, act_space = _spaces(env_node, spec.agent_dir)
        limit_ends_task = _time_limit_ends_task(env_node, spec.agent_dir)
    except AgentOSError as e:
        raise type(e)(
            str(e).split("\nFix:")[0],
            where=f"{where_file}: {env_node.spec.where}.params",
            fix=e.fix,
        ) from None
    for node in nodes:
        try:
            node.cls.check_spaces(node.params, obs_space, act_space)
        except IncompatibleSpaceError as e:
            raise IncompatibleSpaceError(
                str(e).split("\nFix:")[0],
                where=f"{where_file}: {node.spec.where} ({env_node.spec.name}: "
                f"{_env_label(env_node)})",
                fix=e.fix,
            ) from None
    return AgentGraph(
        spec=spec,
        nodes=tuple(nodes),
        param_tree=tree,
        loop=loop,
        observation_space=obs_space,
        action_space=act_space,
        num_envs=getattr(env_node.params, "num_envs", 1),
        time_limit_ends_task=limit_ends_task,
    )


def _check_written(params_cls: Any, values: dict[str, Any], where: str) -> None:
    """Refuse a spec that leaves out a field its Params say must be written
    (``must_be_written``), naming the field and how to set it."""
    for key, how in getattr(params_cls, "must_be_written", {}).items():
        if key not in values:
            raise ParameterError(
                f"{key} is not set: the spec's params are empty or lost it",
                where=f"{where}.params",
                fix=f"write {how}",
            )


def _spaces(env_node: Node, agent_dir: Any) -> tuple[Any, Any]:
    """The environment's spaces; environments that take the agent folder get it."""
    spaces = env_node.cls.spaces
    if "agent_dir" in inspect.signature(spaces).parameters:
        return spaces(env_node.params, agent_dir=agent_dir)
    return spaces(env_node.params)


def _time_limit_ends_task(env_node: Node, agent_dir: Any) -> bool:
    """The environment's ``time_limit_ends_task`` (False for classes without one)."""
    ask = getattr(env_node.cls, "time_limit_ends_task", None)
    if ask is None:
        return False
    if "agent_dir" in inspect.signature(ask).parameters:
        return bool(ask(env_node.params, agent_dir=agent_dir))
    return bool(ask(env_node.params))


_EXAMPLE = {"environment": "cartpole", "actor": "random_actor", "learner": "dqn"}


def _env_label(node: Node) -> str:
    gym_id = getattr(node.params, "gym_id", None)
    return str((gym_id() if gym_id else "") or node.cls.__name__)


def _dependencies(spec: AgentSpec, name: str, classes: dict[str, type]) -> dict[str, str]:
    """{argument: component} for ``name``: explicit ``depends`` first, then by unique role."""
    where = f"{spec.path}: components.{name}.depends"
    cls = classes[name]
    requires: dict[str, str] = dict(getattr(cls, "requires", {}))
    given = dict(spec.components[name].depends)
    for arg, target in given.items():
        if arg not in requires:
            raise GraphError(
                f"{cls.__name__} takes no dependency '{arg}'",
                where=where,
                fix=f"it takes: {', '.join(requires) or 'none'}",
            )
        if target not in spec.components:
            raise GraphError(
                f"depends on '{target}', which is not a component of this agent",
                where=f"{where}.{arg}",
                fix=f"install a {requires[arg]} (e.g. `agentos install ...`) or name one of: "
                f"{', '.join(spec.components)}",
            )
        role = classes[target].role  # type: ignore[attr-defined]
        if role != requires[arg]:
            raise GraphError(
                f"'{arg}' must be a {requires[arg]}, but '{target}' is a {role}",
                where=f"{where}.{arg}",
                fix=f"point it at a component with role {requires[arg]}",
            )
    out = {}
    for arg, role in requires.items():
        if arg in given:
            out[arg] = given[arg]
            continue
        candidates = [n for n, c in classes.items() if c.role == role and n != name]  # type: ignore[attr-defined]
        if len(candidates) != 1:
            found = "none" if not candidates else ", ".join(candidates)
            raise GraphError(
                f"missing dependency: {cls.__name__} needs a {role} as '{arg}' (found {found})",
                where=where,
                fix=f"install a {role} component or set depends: {{{arg}: NAME}}",
            )
        out[arg] = candidates[0]
    return out


def _topological_order(deps: dict[str, dict[str, str]], where_file: str) -> list[str]:
    """Names in build order; a cycle is reported with its path."""
    order: list[str] = []
    state: dict[str, int] = {}  # 1 = visiting, 2 = done

    def visit(name: str, path: list[str]) -> None:
        if state.get(name) == 2:
            return
        if state.get(name) == 1:
            cycle = path[path.index(name) :] + [name]
            raise GraphError(
                f"dependency cycle: {' -> '.join(cycle)}",
                where=f"{where_file}: components.{cycle[0]}.depends",
                fix="remove one of these dependencies",
            )
        state[name] = 1
        for target in deps[name].values():
            visit(target, [*path, name])
        state[name] = 2
        order.append(name)

    for name in deps:
        visit(name, [])
    return order


def _blame_the_reference(
    error: ParameterError, name: str, written: dict[str, Any], values: dict[str, Any]
) -> ParameterError:
    """``error`` with its fix pointing at the parameter a ``${comp.param}`` reference copied
    the bad value from (``replay.gamma: ${learner.gamma}`` fails for ``learner.gamma``)."""
    message = str(error).split("\nFix:")[0]
    if error.where and message.startswith(f"{error.where}: "):
        message = message[len(error.where) + 2 :]
    for key, raw in written.items():
        reference = isinstance(raw, str) and raw.startswith("${") and raw.endswith("}")
        if reference and message.startswith(f"{key} "):
            source = raw[2:-1]
            return ParameterError(
                message,
                where=error.where,
                fix=f"{name}.{key} follows ${{{source}}} (= {values.get(key)!r}): change "
                f"{source} in agentos.yaml, or override it with -p {source}=VALUE",
            )
    return error


def _blame_the_source(
    error: ParameterError, name: str, overrides: list[str] | None, spec: Any, where_file: Any
) -> ParameterError:
    """``error`` placed where its value came from: a ``-p`` override or the spec's
    ``defaults:``, not the component's params in agentos.yaml (which may not hold it)."""
    prefix = f"{where_file}: components.{name}.params."
    if not error.where or not error.where.startswith(prefix):
        return error
    path = error.where[len(prefix) :]
    key = path.split(".")[0].split("[")[0]
    if f"{name}.{key}" in {o.split("=", 1)[0].strip() for o in overrides or []}:
        where = f"-p {name}.{path}"
    elif key not in spec.components[name].params and key in (spec.defaults.get(name) or {}):
        where = f"{where_file}: defaults.{name}.{key}"
    else:
        return error
    return ParameterError(error.message, where=where, fix=error.fix)
