"""IR Lua scripts -> Envoy's `envoy.filters.http.lua` filters, as Envoy Gateway configures them.

A connection manager whose routes carry scripts gets one disabled Lua filter per position a
script takes in a route's list (`envoy.filters.http.lua/<i>`, empty: it runs nothing by
itself), so the chain does not change when a policy's scripts do; each route turns on the
positions it uses with a `LuaPerRoute` holding its script inline, and the scripts run in the
route's order.
"""

from __future__ import annotations

from typing import Any

from envoy.config.core.v3.base_pb2 import DataSource
from envoy.extensions.filters.http.lua.v3 import lua_pb2 as pb
from envoy.extensions.filters.network.http_connection_manager.v3.http_connection_manager_pb2 import (  # noqa: E501
    HttpFilter,
)

from propylon.ir import model as ir
from propylon.xds.translate.messages import pack

FILTER = "envoy.filters.http.lua"


def uses(route: ir.Route) -> tuple[ir.Lua, ...] | None:
    return route.lua or None


def per_route(luas: tuple[ir.Lua, ...]) -> dict[str, Any]:
    """A route's `typed_per_filter_config` entries: its scripts, one per position."""
    return {f"{FILTER}/{i}": pack(pb.LuaPerRoute(source_code=DataSource(inline_string=lua.code)))
            for i, lua in enumerate(luas)}


def chain(uses: frozenset[tuple[ir.Lua, ...]]) -> list[HttpFilter]:
    """The connection manager's (disabled, empty) filters: as many as the longest list."""
    return [HttpFilter(name=f"{FILTER}/{i}", typed_config=pack(pb.Lua()), disabled=True)
            for i in range(max(len(luas) for luas in uses))]
