"""The reaper: fails trials whose worker stopped beating, with nobody asking.

Every ``reaper_interval`` seconds it reads the study summaries (aggregates, no trial
rows), and for each study this server owns that has RUNNING trials it asks the study's
driver to fail those silent for the grace period and to tell its searcher
(:meth:`hpo.driver.LocalDriver.reap`). A study created with ``retries=k`` gets each such
trial's configuration queued again, up to ``k`` times per configuration (the new trial
records ``hpo:retry_of`` and ``hpo:attempt``). Replicas all reap; failing a trial is
race-safe in the storage, so each is failed once (and re-queued once).
"""

from __future__ import annotations

import logging

import anyio

from hpo.driver import LocalDriver
from hpo.exceptions import HPOError
from hpo.server.state import ServerState
from hpo.trial import TrialState

log = logging.getLogger("hpo.server.reaper")
RETRY_OF, ATTEMPT = "hpo:retry_of", "hpo:attempt"


def reap_study(driver: LocalDriver) -> list[int]:
    """Fail the study's stale trials and re-queue them when it asks for retries; returns
    the numbers failed."""
    from hpo.server.routes.studies import RETRIES_ATTR

    failed = driver.reap()
    retries = int(driver.record.user_attrs.get(RETRIES_ATTR, 0) or 0)
    if not failed or retries <= 0:
        return failed
    storage, sid = driver.storage, driver.study_id
    for number in failed:
        trial = storage.get_trial(sid, number)
        if trial.state is not TrialState.FAILED:
            continue
        attempt = int(trial.user_attrs.get(ATTEMPT, 0) or 0)
        if attempt >= retries:
            continue
        driver.enqueue(trial.params, user_attrs={RETRY_OF: number, ATTEMPT: attempt + 1})
    return failed


async def reap_once(state: ServerState) -> dict[int, list[int]]:
    """One pass over the studies this server owns; returns the trials failed by study."""
    owner = state.config.owner
    summaries = await state.pool.call(state.storage.study_summaries)
    failed: dict[int, list[int]] = {}
    for summary in summaries:
        if summary.owner != owner or not summary.counts.get(TrialState.RUNNING.value):
            continue
        try:
            numbers = await state.pool.run(summary.study_id, reap_study, exclusive=True)
        except HPOError as exc:  # deleted meanwhile, owned elsewhere: skip it
            log.debug("reaper skipped study %s: %s", summary.study_id, exc)
            continue
        if numbers:
            log.info("study %r: failed stale trials %s", summary.name, numbers)
            failed[summary.study_id] = numbers
    return failed


async def reaper_loop(state: ServerState) -> None:
    """Reap every ``reap_every`` seconds until cancelled; errors are logged, not fatal."""
    while True:
        await anyio.sleep(state.config.reap_every)
        try:
            await reap_once(state)
        except Exception:  # the database is down: try again next round
            log.warning("reaper pass failed", exc_info=True)
