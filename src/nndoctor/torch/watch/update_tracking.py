"""Seeing every parameter update: optimizer steps and hand-written updates.

Global optimizer step pre/post hooks mark the moment gradients are final and the update
itself, and tell which parameters (hence which models) each optimizer owns. A manual
update (`p.data.add_(-lr * p.grad)`) has no hook: between two backwards with no
optimizer step, a change in a couple of sentinel parameters reveals it. At each update
a few sampled parameters are checked for gradients left over from an earlier backward
(the `missing-zero-grad` evidence).
"""
from __future__ import annotations

from typing import Any

import torch

from nndoctor.live.faults import StopRun
from nndoctor.torch.watch.models import MAX_EVENTS, OptimizerInfo, WatchedModel
from nndoctor.torch.watch.optimizer_groups import OptimizerGroups, read_norms


def groups_kind(info: OptimizerInfo) -> str:
    return info.groups.kind if info.groups is not None else info.name


class UpdateTracking:
    """The update handlers of `Session` (a mixin: it uses the session's state)."""

    def _optimizer_info(self, optimizer: torch.optim.Optimizer) -> OptimizerInfo:
        info = self.optimizers.get(id(optimizer))
        groups = optimizer.param_groups
        count = len(groups[0]["params"]) if len(groups) == 1 else OptimizerInfo.count_params(optimizer)
        if (info is not None and info.ref() is optimizer and info.param_count == count
                and info.models_version == self._models_version):
            return info
        params = [p for group in optimizer.param_groups for p in group["params"]]
        param_ids = {id(p) for p in params}
        models: list[WatchedModel] = []
        for param in params:
            owner = self.param_owner.get(id(param))
            if owner is not None and owner not in models:
                models.append(owner)
        named = []
        for param in params:
            owner = self.param_owner.get(id(param))
            if owner is None:
                named.append((1, "parameter", param))
                continue
            index = owner.tracker.index_by_id[id(param)]
            # Sample parameters known to receive gradients: a detached branch says nothing.
            named.append((0 if index in owner.tracker.got_grad else 1, owner.tracker.names[index], param))
        named = [(name, param) for _, name, param in sorted(named, key=lambda row: row[0])]
        names = {id(param): name for name, param in named}
        previous = info
        info = OptimizerInfo(ref=OptimizerInfo.make_ref(optimizer), name=type(optimizer).__name__,
                             param_ids=param_ids, param_count=count, models=models,
                             stale_keys=self.stale.sample(named), models_version=self._models_version,
                             groups=OptimizerGroups(optimizer, names))
        if previous is not None and previous.ref() is not optimizer:
            self._retire(previous, id(optimizer))
        elif previous is not None:
            info.steps = previous.steps
            if len(previous.groups.groups) == len(info.groups.groups):
                info.groups = previous.groups  # same groups, a model was found: keep their history
                info.groups.rename(names)
        for watched in models:
            watched.optimizer_ids.add(id(optimizer))
            watched.clear_sentinels()
        self.optimizers[id(optimizer)] = info
        if (not self._discovery_handles and self.discover
                and any(p.requires_grad and id(p) not in self.param_owner for p in params)):
            self._start_discovery()  # a new model appeared (a new fold, a second stage)
        return info

    def _retire(self, info: OptimizerInfo, key: int) -> None:
        """A garbage-collected optimizer's id was reused by a new one (a teacher trained
        with its own optimizer in a function, then the student's): keep the old one's
        record under a key of its own, so its models stay covered by the optimizer that
        trained them."""
        retired = -1 - sum(1 for k in self.optimizers if k < 0)
        self.optimizers[retired] = info
        for watched in info.models:
            if key in watched.optimizer_ids:
                watched.optimizer_ids.discard(key)
                watched.optimizer_ids.add(retired)

    def _on_step_pre(self, optimizer: torch.optim.Optimizer, args: Any, kwargs: Any) -> Any:
        if self.suspended:
            return None
        self._step_depth += 1
        if self._step_depth > 1:
            return None
        self._backwards_in_step = 0
        replaced = None
        try:
            info = self._current_info = self._optimizer_info(optimizer)
            info.groups.observe(self.step, optimizer)
            closure, replaced = self._wrap_closure(info, args, kwargs)
            self._in_closure_step = closure
            if not closure:
                self.iterations.update(self.step, groups_kind(info))
            stale = self.stale.confirm(info.stale_keys) if self.stale.suspects else None
            if stale:
                self._record_stale(stale, info.name, len(info.stale_keys))
            if self.preflight_request is not None:
                self.preflight_request.on_step(self, optimizer, info)
            if not closure:  # a closure computes this step's gradients inside step()
                self._gradients_final(info)
        except StopRun:
            raise
        except Exception as error:  # noqa: BLE001
            self.faults.record("optimizer step hook", error, self.step)
        return replaced

    def _gradients_final(self, info: OptimizerInfo) -> None:
        """The gradients this update will use are final and the parameters not yet updated."""
        groups = info.groups
        for watched in info.models:
            watched.tracker.grads_final(self.every)
            watched.tracker.before_update(self.every, groups.zero_lr_ids, groups.lr_of)
            self._tell_monitor(watched, "on_before_update", self.step)
        if self.step % self.every == 0:
            norms: list[Any] = []
            groups.sample_norms(self.step, norms)
            read_norms(norms)

    def _wrap_closure(self, info: OptimizerInfo, args: Any, kwargs: Any) -> tuple[bool, Any]:
        """`optimizer.step(closure)` (LBFGS, and Lightning's automatic optimization with any
        optimizer): the closure runs forward and backward inside step(). It is wrapped for
        this call so that each evaluation is seen: the gradients it starts from were
        consumed by the optimizer (a closure that does not zero them accumulates onto them),
        and after the first one the step's gradients are final."""
        if "closure" in kwargs and callable(kwargs["closure"]):
            closure = kwargs["closure"]
        elif len(args) > 1 and callable(args[1]):
            closure = args[1]
        else:
            return False, None
        session = self

        def watched_closure(*closure_args: Any, **closure_kwargs: Any) -> Any:
            session._before_closure(info)
            result = closure(*closure_args, **closure_kwargs)
            session._after_closure(info)
            return result

        watched_closure.__wrapped__ = closure  # type: ignore[attr-defined]
        self._closure_calls = 0
        if "closure" in kwargs:
            return True, (args, {**kwargs, "closure": watched_closure})
        return True, ((args[0], watched_closure, *args[2:]), kwargs)

    def _before_closure(self, info: OptimizerInfo) -> None:
        if self.suspended:
            return
        try:
            # From the second evaluation on, the optimizer has read the gradients the closure
            # starts from. Before the first, they are either consumed by the last update (marked
            # then) or accumulated by backwards outside step() on purpose (Lightning's
            # accumulate_grad_batches runs the last micro-batch inside the closure).
            if self._closure_calls:
                self.stale.mark_consumed(info.stale_keys)
            self._closure_backward_checked = False
        except Exception as error:  # noqa: BLE001
            self.faults.record("closure hook", error, self.step)

    def _after_closure(self, info: OptimizerInfo) -> None:
        if self.suspended:
            return
        try:
            self._closure_calls += 1
            stale = self.stale.confirm(info.stale_keys) if self.stale.suspects else None
            if stale:
                self._record_stale(stale, f"{info.name} closure", len(info.stale_keys))
            if self._closure_calls == 1:
                if info.models_version != self._models_version:
                    info = self._optimizer_info(info.ref())  # the model was found in this closure
                self._gradients_final(info)  # no optimizer updates before its first closure call
        except StopRun:
            raise
        except Exception as error:  # noqa: BLE001
            self.faults.record("closure hook", error, self.step)

    def _on_step_post(self, optimizer: torch.optim.Optimizer, args: Any, kwargs: Any) -> None:
        if self.suspended:
            return None
        self._step_depth = max(self._step_depth - 1, 0)
        if self._step_depth > 0:
            return None
        try:
            info = self._current_info
            self._current_info = None
            if info is None or info.models_version != self._models_version:
                info = self._optimizer_info(optimizer)  # a model was found inside step (closure)
            info.steps += 1
            info.last_step = self.step
            self.optimizer_steps += 1
            for watched in info.models:
                watched.tracker.after_update()
                watched.updated_at = self.step
                self._tell_monitor(watched, "on_after_update", self.step)
            self.stale.mark_consumed(info.stale_keys)
        except StopRun:
            raise
        except Exception as error:  # noqa: BLE001
            self.faults.record("optimizer step hook", error, self.step)
        self.step += 1
        self._in_closure_step = False
        self._stepped_since_backward = True
        self._manual_pending = False
        self._maybe_judge()
        return None

    def _record_stale(self, names: list[str], update: str, checked: int) -> None:
        self.stale_update_count += 1
        if len(self.stale_grad_updates) < MAX_EVENTS:
            self.stale_grad_updates.append({
                "step": self.step, "update": update, "stale_params": names, "checked_params": checked,
                "seen_updates": self.stale_update_count,
            })
            self.judge.dirty = True
        else:  # the list stays bounded; the last record carries the running count
            self.stale_grad_updates[-1]["seen_updates"] = self.stale_update_count

    def _prepare_manual_update(self, watched: WatchedModel) -> None:
        tracker = watched.tracker
        if not watched.stale_keys:
            named = [(tracker.names[i], tracker.params[i]) for i in sorted(tracker.got_grad)]
            watched.stale_keys = self.stale.sample(named)
        tracker.grads_final(self.every)
        tracker.before_update(self.every)
        watched.snapshot_sentinels()
        self._manual_pending = True
        # Until a manual update has been seen, an optimizer may still claim this model at
        # its first step: the monitor hears "before update" from that step instead.
        if watched.tracker.updates_seen:
            self._tell_monitor(watched, "on_before_update", self.step)

    def _detect_manual_update(self) -> None:
        if not self._manual_pending or self._stepped_since_backward or self._step_depth:
            return
        updated = [w for w in self.models.values() if w.manual and w.sentinels_changed()]
        if not updated:
            return
        self._manual_pending = False
        for watched in updated:
            stale = self.stale.confirm(watched.stale_keys)
            if stale:
                self._record_stale(stale, "manual update", len(watched.stale_keys))
            watched.tracker.after_update()
            watched.updated_at = self.step
            watched.manual_updates += 1
            watched.clear_sentinels()
            self._tell_monitor(watched, "on_after_update", self.step)
            self.stale.mark_consumed(watched.stale_keys)
        self.step += 1
