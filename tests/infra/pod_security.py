"""The rules of Pod Security Standards' "restricted" profile (kubernetes.io/docs/concepts/
security/pod-security-standards, which includes "baseline"), checked on a pod spec: the list of
violations, empty when the pod would be admitted in a namespace enforcing "restricted"."""

from __future__ import annotations

from typing import Any

ALLOWED_VOLUMES = {"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral",
                   "persistentVolumeClaim", "projected", "secret"}
SAFE_SYSCTLS = {"kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range",
                "net.ipv4.ip_unprivileged_port_start", "net.ipv4.tcp_syncookies",
                "net.ipv4.ping_group_range", "net.ipv4.ip_local_reserved_ports",
                "net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_fin_timeout",
                "net.ipv4.tcp_keepalive_intvl", "net.ipv4.tcp_keepalive_probes"}
SELINUX_TYPES = {None, "", "container_t", "container_init_t", "container_kvm_t",
                 "container_engine_t"}


def violations(pod_spec: dict[str, Any]) -> list[str]:
    out: list[str] = []
    pod_ctx = pod_spec.get("securityContext") or {}
    for host in ("hostNetwork", "hostPID", "hostIPC"):
        if pod_spec.get(host):
            out.append(f"{host} is true")
    for volume in pod_spec.get("volumes") or []:
        kinds = set(volume) - {"name"}
        if not kinds <= ALLOWED_VOLUMES:
            out.append(f"volume {volume['name']} is of type {sorted(kinds)}")
    for sysctl in pod_ctx.get("sysctls") or []:
        if sysctl.get("name") not in SAFE_SYSCTLS:
            out.append(f"sysctl {sysctl.get('name')} is not safe")
    if (pod_ctx.get("seLinuxOptions") or {}).get("type") not in SELINUX_TYPES:
        out.append("pod seLinuxOptions.type is not allowed")
    if pod_ctx.get("runAsUser") == 0:
        out.append("pod runAsUser is 0")
    pod_seccomp = (pod_ctx.get("seccompProfile") or {}).get("type")
    if pod_seccomp not in (None, "RuntimeDefault", "Localhost"):
        out.append(f"pod seccompProfile is {pod_seccomp}")
    containers = [*(pod_spec.get("initContainers") or []), *pod_spec["containers"]]
    for c in containers:
        ctx = c.get("securityContext") or {}
        name = f"container {c['name']}"
        if ctx.get("privileged"):
            out.append(f"{name} is privileged")
        if (ctx.get("windowsOptions") or {}).get("hostProcess"):
            out.append(f"{name} is a host process")
        if any(p.get("hostPort") for p in c.get("ports") or []):
            out.append(f"{name} uses a hostPort")
        if ctx.get("procMount") not in (None, "Default"):
            out.append(f"{name} procMount is {ctx['procMount']}")
        if (ctx.get("seLinuxOptions") or {}).get("type") not in SELINUX_TYPES:
            out.append(f"{name} seLinuxOptions.type is not allowed")
        if ctx.get("allowPrivilegeEscalation") is not False:
            out.append(f"{name} does not set allowPrivilegeEscalation false")
        capabilities = ctx.get("capabilities") or {}
        if "ALL" not in (capabilities.get("drop") or []):
            out.append(f"{name} does not drop ALL capabilities")
        if set(capabilities.get("add") or []) - {"NET_BIND_SERVICE"}:
            out.append(f"{name} adds capabilities {capabilities['add']}")
        if ctx.get("runAsNonRoot", pod_ctx.get("runAsNonRoot")) is not True:
            out.append(f"{name} does not run as non-root")
        if ctx.get("runAsUser") == 0:
            out.append(f"{name} runAsUser is 0")
        seccomp = (ctx.get("seccompProfile") or {}).get("type", pod_seccomp)
        if seccomp not in ("RuntimeDefault", "Localhost"):
            out.append(f"{name} has seccompProfile {seccomp}")
    return out
