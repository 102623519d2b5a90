from __future__ import annotations

import datetime

from django.core.validators import RegexValidator
from django.db import models
from django.utils import timezone

from runner.kolla import default_base_distro, host_os_for, kolla_openstack_release
from runner.planner import ReleaseInfo


class ReleaseStatus(models.TextChoices):
    """openstack/releases' phases of a series, in the order a series goes through them."""

    FUTURE = "future", "future"
    DEVELOPMENT = "development", "in development"
    MAINTAINED = "maintained", "maintained"
    EXTENDED = "extended", "extended maintenance"
    UNMAINTAINED = "unmaintained", "unmaintained"
    EOL = "eol", "end of life"


def today() -> datetime.date:
    """The day release statuses are computed for: the server's local date."""
    return timezone.localdate()


#: Phases in which the community still fixes a series; targeting any other needs an acknowledgement.
SUPPORTED_STATUSES = frozenset({ReleaseStatus.MAINTAINED, ReleaseStatus.EXTENDED})


class Distro(models.TextChoices):
    ROCKY = "rocky", "Rocky Linux"
    UBUNTU = "ubuntu", "Ubuntu"
    DEBIAN = "debian", "Debian"


class Arch(models.TextChoices):
    X86_64 = "x86_64", "x86_64"
    AARCH64 = "aarch64", "aarch64"


class Availability(models.TextChoices):
    TESTED = "tested", "Tested"
    UNTESTED = "untested", "Untested"
    NOT_AVAILABLE = "not_available", "Not available"


series_validator = RegexValidator(r"^20\d\d\.[12]$", "a release series looks like 2026.1")


class Release(models.Model):
    """An OpenStack release series (``2026.1`` Gazpacho) and the kolla-ansible major that deploys it.

    ``position`` orders the series; a legal upgrade hop goes to the next
    position, or from a SLURP release to the next SLURP release.
    """

    series = models.CharField(max_length=7, unique=True, validators=[series_validator])
    name = models.CharField(max_length=32, unique=True)
    slurp = models.BooleanField("SLURP", default=False, help_text="skip-level upgrade release process")
    kolla_ansible_major = models.PositiveSmallIntegerField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=ReleaseStatus.choices)
    position = models.PositiveSmallIntegerField(unique=True)
    released_on = models.DateField(null=True, blank=True, help_text="the series' initial release")
    next_status = models.CharField(max_length=16, choices=ReleaseStatus.choices, blank=True)
    next_status_on = models.DateField(null=True, blank=True, help_text="when the series enters next_status")
    eol_on = models.DateField("end of life on", null=True, blank=True)

    class Meta:
        ordering = ["position"]

    def __str__(self) -> str:
        return f"{self.series} {self.name}"

    def status_on(self, day: datetime.date) -> str:
        """The series' phase on ``day``: ``status`` as recorded, moved on by the dates that passed.

        ``status`` is what openstack/releases said when the catalog was last loaded; the dates
        say when it changes, so the catalog stays true between loads.
        """
        if self.eol_on and day >= self.eol_on:
            return ReleaseStatus.EOL
        if self.next_status and self.next_status_on and day >= self.next_status_on:
            return self.next_status
        return self.status

    @property
    def current_status(self) -> str:
        """The series' phase today (the server's local date)."""
        return self.status_on(today())

    @property
    def current_status_label(self) -> str:
        return ReleaseStatus(self.current_status).label

    @property
    def next_change(self) -> tuple[str, datetime.date] | None:
        """The next known phase and its date, if it lies ahead."""
        day = today()
        if self.next_status and self.next_status_on and self.next_status_on > day:
            return ReleaseStatus(self.next_status).label, self.next_status_on
        if self.eol_on and self.eol_on > day:
            return ReleaseStatus.EOL.label, self.eol_on
        return None

    @property
    def is_supported(self) -> bool:
        return self.current_status in SUPPORTED_STATUSES

    @property
    def openstack_release(self) -> str:
        """What kolla-ansible's ``openstack_release`` is for this series (``zed``, ``2023.1``)."""
        return kolla_openstack_release(self.series)

    @property
    def host_os(self) -> dict[str, tuple[str, ...]] | None:
        """Host OSes kolla-ansible's prechecks accept for this series (None: kolla did not check)."""
        return host_os_for(self.series)

    @property
    def default_base_distro(self) -> str | None:
        """kolla-ansible's default image base for this series."""
        return default_base_distro(self.series)


class Image(models.Model):
    """A Kolla service container image (``nova-compute``) of one OpenStack service (``nova``)."""

    name = models.CharField(
        max_length=64,
        unique=True,
        validators=[RegexValidator(r"^[a-z0-9][a-z0-9-]*$", "lower-case letters, digits and dashes")],
    )
    service = models.CharField(max_length=64, db_index=True)
    description = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class ImageAvailability(models.Model):
    """Kolla's support matrix cell: whether an image is built and tested for a distro and arch."""

    image = models.ForeignKey(Image, on_delete=models.CASCADE, related_name="availability")
    distro = models.CharField(max_length=16, choices=Distro.choices)
    arch = models.CharField(max_length=16, choices=Arch.choices)
    status = models.CharField(max_length=16, choices=Availability.choices)

    class Meta:
        ordering = ["image__name", "distro", "arch"]
        constraints = [
            models.UniqueConstraint(fields=["image", "distro", "arch"], name="one_availability_per_cell")
        ]
        verbose_name_plural = "image availability"

    def __str__(self) -> str:
        return f"{self.image} {self.distro}/{self.arch}: {self.get_status_display()}"


class ImageTag(models.Model):
    """The tag an image carries for a release and distro, e.g. ``2026.1-rocky-10``."""

    image = models.ForeignKey(Image, on_delete=models.CASCADE, related_name="tags")
    release = models.ForeignKey(Release, on_delete=models.CASCADE, related_name="image_tags")
    distro = models.CharField(max_length=16, choices=Distro.choices)
    tag = models.CharField(max_length=64)

    class Meta:
        ordering = ["image__name", "release__position", "distro"]
        constraints = [
            models.UniqueConstraint(fields=["image", "release", "distro"], name="one_tag_per_release_distro")
        ]

    def __str__(self) -> str:
        return f"{self.image}:{self.tag}"


class SupportTier(models.Model):
    """How much the team cares for something: "maintained", "best effort", "unmaintained".

    ``rank`` orders tiers from most to least supported; ``flagged`` tiers are
    called out on support reports as something to move away from.
    """

    name = models.CharField(max_length=64, unique=True)
    rank = models.PositiveSmallIntegerField(unique=True, help_text="0 is the best supported")
    flagged = models.BooleanField(default=False, help_text="highlight on support reports")
    description = models.TextField(blank=True)

    class Meta:
        ordering = ["rank"]

    def __str__(self) -> str:
        return self.name


class SubjectType(models.TextChoices):
    IMAGE = "image", "image"
    SERVICE = "service", "service"
    DISTRO = "distro", "distro"
    ARCH = "arch", "arch"
    FEATURE = "feature", "feature"


class SupportRule(models.Model):
    """Assigns a support tier to one image, service, distro, arch or feature.

    An image's tier comes from its own rule, else from its service's rule.
    A feature is a kolla ``enable_<feature>`` switch, named without the prefix.
    """

    tier = models.ForeignKey(SupportTier, on_delete=models.PROTECT, related_name="rules")
    subject_type = models.CharField(max_length=16, choices=SubjectType.choices)
    subject = models.CharField(max_length=64)
    note = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["subject_type", "subject"]
        constraints = [
            models.UniqueConstraint(fields=["subject_type", "subject"], name="one_rule_per_subject")
        ]

    def __str__(self) -> str:
        return f"{self.subject_type} {self.subject} → {self.tier}"


def release_infos() -> list[ReleaseInfo]:
    """Every series in order, as the planner sees it: SLURP or not, and its phase today."""
    return [ReleaseInfo(r.series, r.slurp, r.current_status) for r in Release.objects.all()]
