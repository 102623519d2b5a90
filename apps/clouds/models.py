from __future__ import annotations

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models

from apps.accounts.roles import Role
from apps.catalog.models import Arch, Distro, Release
from runner.secret_vars import is_secret_name

dns_label = RegexValidator(
    r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$",
    "use 1-63 lower-case letters, digits and dashes, not starting or ending with a dash (a DNS label)",
)
# kolla-ansible puts kolla_base_distro_version into every image tag (2026.1-rocky-10), and runs it.
distro_version_tag = RegexValidator(
    r"^[a-z0-9][a-z0-9._-]*$",
    "use lower-case letters, digits, dots, dashes and underscores, as in image tags (10, noble, trixie)",
)


class ContainerEngine(models.TextChoices):
    DOCKER = "docker", "Docker"
    PODMAN = "podman", "Podman"


class CloudState(models.TextChoices):
    PLANNED = "planned", "planned"
    DEPLOYED = "deployed", "deployed"
    UPGRADING = "upgrading", "upgrading"
    DEGRADED = "degraded", "degraded"


class Cloud(models.Model):
    """One Kolla-deployed OpenStack cloud (one region, one kolla-ansible inventory).

    The API level of nova (super conductor, API services) belongs to the cloud
    itself; cells hold cell controllers and computes. ``globals_yml`` is kept as
    text so operators' comments survive; ``passwords.yml`` is stored encrypted
    and only ever decrypted to hand it to Ansible.
    """

    slug = models.CharField(max_length=63, unique=True, validators=[dns_label])
    region = models.CharField(max_length=63, default="RegionOne")
    description = models.CharField(max_length=200, blank=True)
    release = models.ForeignKey(
        Release,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="clouds",
        help_text="current release; empty before the first deploy",
    )
    distro = models.CharField(max_length=16, choices=Distro.choices, default=Distro.ROCKY)
    distro_version = models.CharField(max_length=16, default="10", validators=[distro_version_tag])
    arch = models.CharField(max_length=16, choices=Arch.choices, default=Arch.X86_64)
    container_engine = models.CharField(
        max_length=16, choices=ContainerEngine.choices, default=ContainerEngine.DOCKER
    )
    state = models.CharField(max_length=16, choices=CloudState.choices, default=CloudState.PLANNED)
    globals_yml = models.TextField("globals.yml", blank=True, default="")
    passwords_encrypted = models.TextField(blank=True, default="", editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["slug"]

    def __str__(self) -> str:
        return self.slug

    @property
    def has_passwords(self) -> bool:
        return bool(self.passwords_encrypted)


class InventoryGroup(models.Model):
    """An Ansible inventory group of a cloud: ``control``, ``compute``, ``nova-api``, ``cell1``…

    Kolla derives about a hundred service groups from a few top-level ones
    through ``children``; both kinds are kept so the rendered inventory is
    the one that was imported.
    """

    cloud = models.ForeignKey(Cloud, on_delete=models.CASCADE, related_name="groups")
    name = models.CharField(max_length=128)
    position = models.PositiveIntegerField(default=0, help_text="order in the inventory file")
    children = models.JSONField(default=list, blank=True)
    inline_vars = models.JSONField(default=dict, blank=True, help_text="[group:vars] of the inventory")
    group_vars = models.JSONField(default=dict, blank=True, help_text="group_vars/<group>.yml")
    declared = models.BooleanField(default=True, help_text="a section of the inventory, not only group_vars")

    class Meta:
        ordering = ["cloud", "position", "name"]
        constraints = [models.UniqueConstraint(fields=["cloud", "name"], name="one_group_name_per_cloud")]

    def __str__(self) -> str:
        return f"{self.cloud}/{self.name}"


class Cell(models.Model):
    """A nova cells v2 cell: a group of cell controllers and computes with its own database.

    ``variables`` are the cell group's ``group_vars`` (``nova_cell_name``,
    ``nova_cell_compute_group``…), rendered back as kolla ``group_vars``. A cell rollout moves one
    cell at a time, so a cell's ``release`` can differ from its cloud's while one runs.
    """

    cloud = models.ForeignKey(Cloud, on_delete=models.CASCADE, related_name="cells")
    name = models.CharField(max_length=63, validators=[dns_label])
    group = models.CharField(max_length=128, help_text="the inventory group that holds the cell")
    variables = models.JSONField(default=dict, blank=True)
    release = models.ForeignKey(
        Release,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="the release every host of the cell runs; empty while they differ or before a deploy",
    )

    class Meta:
        ordering = ["cloud", "name"]
        constraints = [models.UniqueConstraint(fields=["cloud", "name"], name="one_cell_name_per_cloud")]

    def __str__(self) -> str:
        return f"{self.cloud}/{self.name}"

    @property
    def database_name(self) -> str:
        return self.variables.get("nova_cell_database_name") or f"nova_{self.name.replace('-', '_')}"

    @property
    def console_ports(self) -> dict[str, str]:
        return {
            k: str(v)
            for k, v in sorted(self.variables.items())
            if k.endswith("_port") and not is_secret_name(k)
        }


class HostState(models.TextChoices):
    ACTIVE = "active", "active"
    MAINTENANCE = "maintenance", "maintenance"
    DEGRADED = "degraded", "degraded"


class Host(models.Model):
    """A machine of a cloud's inventory. API controllers have no cell; a host is in at most one cell."""

    cloud = models.ForeignKey(Cloud, on_delete=models.CASCADE, related_name="hosts")
    cell = models.ForeignKey(Cell, null=True, blank=True, on_delete=models.SET_NULL, related_name="hosts")
    name = models.CharField(max_length=255)
    address = models.CharField(max_length=255, blank=True, help_text="ansible_host")
    position = models.PositiveIntegerField(default=0)
    groups = models.ManyToManyField(InventoryGroup, related_name="hosts", blank=True)
    variables = models.JSONField(default=dict, blank=True, help_text="other variables of its inventory line")
    host_vars = models.JSONField(default=dict, blank=True, help_text="host_vars/<host>.yml")
    state = models.CharField(max_length=16, choices=HostState.choices, default=HostState.ACTIVE)
    facts = models.JSONField(default=dict, blank=True)
    facts_updated_at = models.DateTimeField(null=True, blank=True)
    release = models.ForeignKey(
        Release,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="the release a job last deployed or upgraded it to; empty before that",
    )

    class Meta:
        ordering = ["cloud", "position", "name"]
        constraints = [models.UniqueConstraint(fields=["cloud", "name"], name="one_host_name_per_cloud")]

    def __str__(self) -> str:
        return self.name


class ReleaseChange(models.Model):
    """One entry of a cloud's upgrade history: the release it reached, through which job."""

    cloud = models.ForeignKey(Cloud, on_delete=models.CASCADE, related_name="release_changes")
    from_release = models.ForeignKey(
        Release, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    to_release = models.ForeignKey(Release, on_delete=models.PROTECT, related_name="+")
    job = models.ForeignKey("jobs.Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["cloud", "-at", "-id"]

    def __str__(self) -> str:
        return f"{self.cloud}: {self.from_release or '—'} → {self.to_release}"


class FileArea(models.TextChoices):
    """Where under kolla's config dir (``/etc/kolla``) a configuration file lives."""

    CONFIG = "config", "config/ (node_custom_config: service config overrides, Ceph keyrings)"
    CERTIFICATES = "certificates", "certificates/ (kolla_certificates_dir: TLS certificates and keys)"
    GLOBALS_D = "globals.d", "globals.d/ (more variables after globals.yml)"


class CloudFile(models.Model):
    """One file of a cloud's kolla configuration besides globals.yml and passwords.yml.

    kolla-ansible reads service config overrides under ``config/`` (``node_custom_config``), TLS
    certificates under ``certificates/`` (``kolla_certificates_dir``) and variables in
    ``globals.d/*.yml``. A secret file (a private key, a Ceph keyring) is kept encrypted in
    ``content_encrypted`` with the key of passwords.yml and ``content`` stays empty; any other file
    is kept as it is in ``content``. ``size`` and ``sha256`` are of the plain bytes.
    """

    cloud = models.ForeignKey(Cloud, on_delete=models.CASCADE, related_name="files")
    area = models.CharField(max_length=16, choices=FileArea.choices)
    path = models.CharField(max_length=255, help_text="relative to the area's directory")
    content = models.BinaryField(blank=True, default=b"", editable=False)
    content_encrypted = models.TextField(blank=True, default="", editable=False)
    secret = models.BooleanField(default=False)
    size = models.PositiveIntegerField(default=0)
    sha256 = models.CharField(max_length=64)
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["cloud", "area", "path"]
        constraints = [
            models.UniqueConstraint(fields=["cloud", "area", "path"], name="one_file_per_path_per_cloud")
        ]

    def __str__(self) -> str:
        return f"{self.cloud}:{self.relative_path}"

    @property
    def relative_path(self) -> str:
        """Where kolla finds it, relative to its config dir: ``config/nova/nova-compute.conf``."""
        return f"{self.area}/{self.path}"


class CloudMembership(models.Model):
    """A role a user holds on one cloud only.

    Global roles (groups, see :mod:`apps.accounts.roles`) apply to every cloud; a membership gives
    the same role on this cloud alone, so a team can let an operator run one customer's cloud and
    only look at the others, or see nothing else at all.
    """

    cloud = models.ForeignKey(Cloud, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="cloud_memberships"
    )
    role = models.CharField(max_length=16, choices=[(role.value, role.value) for role in Role])
    granted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    granted_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["cloud", "user__username", "role"]
        constraints = [
            models.UniqueConstraint(fields=["cloud", "user", "role"], name="one_membership_per_role")
        ]

    def __str__(self) -> str:
        return f"{self.user} is {self.role} of {self.cloud}"
