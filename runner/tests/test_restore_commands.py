"""The exact command lines of each restore step, as an operator would type them and as Ferry runs them."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

from runner.backends import FERRY_ACTIONS, FERRY_PLAYBOOK_DIR, KollaAnsibleBackend, StepInput
from runner.kolla import KollaInstall, cli_command
from runner.planner import plan
from runner.tests.test_backends import context
from runner.tests.test_planner import backups_request

CHAIN = [
    {
        "id": 5,
        "kind": "full",
        "name": "mysqlbackup-5-full",
        "sha256": f"{5:064x}",
        "store": "/var/ferry/backups/demo/000005",
    },
    {
        "id": 6,
        "kind": "incremental",
        "name": "mysqlbackup-6-incremental",
        "sha256": f"{6:064x}",
        "store": "/var/ferry/backups/demo/000006",
    },
]


def command(step) -> str:
    playbook = FERRY_ACTIONS.get(step.action)
    return cli_command(
        step.action,
        extra_vars={**step.extra_vars, **step.user_vars},
        limit=step.limit,
        tags=step.tags,
        ferry_playbook=f"runner/playbooks/{playbook}" if playbook else None,
    )


def test_each_restore_step_is_kollas_command_or_ferrys_playbook_with_the_clouds_globals() -> None:
    steps = plan(backups_request("restore", backup=6))
    chain = json.dumps({"ferry_restore_chain": CHAIN}, sort_keys=True)
    ferry = "ansible-playbook -i /etc/kolla/multinode -e @/etc/kolla/globals.yml"
    data = f"-e {shlex.quote(chain)} -e ferry_restore_node=ctl01"
    assert [command(s) for s in steps] == [
        f"{ferry} {data} runner/playbooks/ferry-backup-push.yml",
        "kolla-ansible stop -i /etc/kolla/multinode --yes-i-really-really-mean-it "
        "-e openstack_release=2025.2 --tags mariadb",
        f"{ferry} {data} runner/playbooks/ferry-mariadb-restore.yml",
        "kolla-ansible mariadb-recovery -i /etc/kolla/multinode -e mariadb_recover_inventory_name=ctl01",
        "kolla-ansible check -i /etc/kolla/multinode -e openstack_release=2025.2",
    ]


def test_a_name_with_shell_syntax_is_one_quoted_argument() -> None:
    line = cli_command(
        "ferry-backup-push", extra_vars={"ferry_restore_node": "ctl01; rm -rf /"}, ferry_playbook="x.yml"
    )
    assert shlex.split(line)[-2:] == ['{"ferry_restore_node": "ctl01; rm -rf /"}', "x.yml"]


def test_the_kolla_backend_runs_ferrys_restore_playbooks_with_the_chain_as_data(
    tmp_path: Path, kolla_install: KollaInstall
) -> None:
    steps = plan(backups_request("restore", backup=6))
    ctx = context(tmp_path)
    ctx.var_dir = kolla_install.venv.parent.parent  # reuse the cached install
    for planned in (steps[0], steps[2]):
        spec = KollaAnsibleBackend().step_spec(
            ctx,
            StepInput(
                action=planned.action,
                playbook=planned.playbook,
                extra_vars=planned.extra_vars,
                user_vars=planned.user_vars,
            ),
            tmp_path / "run",
        )
        assert Path(spec.playbook) == FERRY_PLAYBOOK_DIR / f"{planned.action}.yml"
        assert [str(f) for f in spec.extra_vars_files] == [
            str(tmp_path / "run" / "etc-kolla" / "globals.yml")
        ]
        assert spec.unsafe_vars == {"ferry_restore_chain": CHAIN, "ferry_restore_node": "ctl01"}
        # Ferry's own: the image tag's distro when globals.yml leaves it to kolla's defaults.
        assert set(spec.extra_vars) == {"ferry_base_distro", "ferry_base_distro_version"}
