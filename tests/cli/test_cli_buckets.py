"""`fluxlab bucket ...` on a tmp embedded store."""

from __future__ import annotations

from cli_runner import Fluxlab


def test_bucket_create_list_update_delete(fluxlab: Fluxlab) -> None:
    created = fluxlab.ok("bucket", "create", "air", "--retention", "30d", "--description", "pm [2.5]")
    assert "air" in created.stdout and "30d" in created.stdout and "pm [2.5]" in created.stdout

    listed = fluxlab.ok("bucket", "list")
    assert "air" in listed.stdout and "30d" in listed.stdout

    updated = fluxlab.ok("bucket", "update", "air", "--name", "air2", "--retention", "0")
    assert "air2" in updated.stdout and "infinite" in updated.stdout

    listed = fluxlab.ok("bucket", "list").stdout
    assert "air2" in listed and " air " not in listed

    deleted = fluxlab.ok("bucket", "delete", "air2")
    assert "Deleted bucket air2" in deleted.stdout
    assert "No buckets" in fluxlab.ok("bucket", "list").stdout


def test_bucket_errors_are_one_line_with_exit_1(fluxlab: Fluxlab) -> None:
    fluxlab.ok("bucket", "create", "air")
    again = fluxlab("bucket", "create", "air")
    assert again.exit_code == 1
    assert again.stderr.startswith("error: ") and len(again.stderr.strip().splitlines()) == 1
    assert "air" in again.stderr and "Traceback" not in again.output

    missing = fluxlab("bucket", "delete", "nope")
    assert missing.exit_code == 1
    assert "bucket 'nope' not found" in missing.stderr


def test_bad_retention_is_explained(fluxlab: Fluxlab) -> None:
    result = fluxlab("bucket", "create", "air", "--retention", "30 days")
    assert result.exit_code == 1
    assert "invalid duration '30 days'" in result.stderr and "e.g. 30d" in result.stderr


def test_update_without_changes_is_a_usage_error(fluxlab: Fluxlab) -> None:
    fluxlab.ok("bucket", "create", "air")
    result = fluxlab("bucket", "update", "air")
    assert result.exit_code == 2
    assert "nothing to change" in result.output
