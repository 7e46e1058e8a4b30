"""Processes a watched script starts are counted (its training there is not watched);
DataLoader workers are not; multiprocessing is restored afterwards."""
import multiprocessing
import multiprocessing.process as mp_process

import torch
from torch.utils.data import DataLoader, TensorDataset

from nndoctor.live.child_processes import ChildProcesses


def _work(queue):
    queue.put(1)


def test_started_processes_are_counted_and_dataloader_workers_are_not():
    original = mp_process.BaseProcess.start
    context = multiprocessing.get_context("fork")
    with ChildProcesses() as children:
        queue = context.Queue()
        workers = [context.Process(target=_work, args=(queue,)) for _ in range(2)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        loader = DataLoader(TensorDataset(torch.arange(8.0)), batch_size=4, num_workers=2,
                            multiprocessing_context="fork")
        assert sum(len(batch) for (batch,) in loader) == 8
    assert children.started == 2 and [queue.get(timeout=10) for _ in range(2)] == [1, 1]
    assert mp_process.BaseProcess.start is original
