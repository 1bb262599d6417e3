//! The run queue: a FIFO of tasks linked through their own cells.
//!
//! Ground rules:
//! - Each queued task's queue reference is held by the link before it:
//!   the first by `head`, each later one by its predecessor's cell
//!   (`RawTask::set_next`). `tail` holds one more reference, to the last
//!   task, so that a push reaches it without walking.
//! - A task is queued at most once (`RawTask::mark_queued`), so a cell has
//!   one link, and a link is set only while its task is queued: a popped
//!   task's link is taken with it.
//! - Why not a `VecDeque`: a burst of spawns (a timer storm queues 100,000
//!   tasks in one poll) grew it by doubling, copying every entry each
//!   time into fresh memory that a new instance faults in page by page,
//!   while a cell's link fits in the padding its header leaves before an
//!   8-aligned future on wasm32.

use crate::raw_task::RawTask;

#[derive(Default)]
pub(crate) struct RunQueue {
    head: Option<RawTask>,
    tail: Option<RawTask>,
    len: usize,
}

impl RunQueue {
    /// Tasks queued.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Queues `raw` last; its reference becomes the queue's.
    pub(crate) fn push_back(&mut self, raw: RawTask) {
        match self.tail.replace(raw.clone()) {
            Some(last) => last.set_next(raw),
            None => self.head = Some(raw),
        }
        self.len += 1;
    }

    /// Takes the first task, with the queue's reference to it.
    pub(crate) fn pop_front(&mut self) -> Option<RawTask> {
        let first = self.head.take()?;
        self.head = first.take_next();
        if self.head.is_none() {
            self.tail = None;
        }
        self.len -= 1;
        Some(first)
    }

    /// Queues every task of `back` after this queue's, in their order.
    pub(crate) fn append(&mut self, mut back: RunQueue) {
        let Some(first) = back.head.take() else {
            return;
        };
        match &self.tail {
            Some(last) => last.set_next(first),
            None => self.head = Some(first),
        }
        self.tail = back.tail.take();
        self.len += std::mem::take(&mut back.len);
    }
}

impl Drop for RunQueue {
    fn drop(&mut self) {
        // One task at a time: dropping `head` would drop the chain of
        // links recursively, one stack frame per task.
        while self.pop_front().is_some() {}
    }
}

#[cfg(test)]
mod tests {
    use super::RunQueue;
    use crate::raw_task::RawTask;

    fn task() -> RawTask {
        let (raw, join) = RawTask::new(async {});
        drop(join);
        raw
    }

    /// A queue of `tasks`, in their order.
    fn queued(tasks: &[RawTask]) -> RunQueue {
        let mut q = RunQueue::default();
        for t in tasks {
            q.push_back(t.clone());
        }
        q
    }

    fn ids(q: &mut RunQueue) -> Vec<*const ()> {
        std::iter::from_fn(|| q.pop_front().map(|t| t.id())).collect()
    }

    #[test]
    fn tasks_leave_in_the_order_they_were_queued() {
        let tasks: Vec<RawTask> = (0..5).map(|_| task()).collect();
        let mut q = queued(&tasks);
        assert_eq!(q.len(), 5);
        let want: Vec<_> = tasks.iter().map(RawTask::id).collect();
        assert_eq!(ids(&mut q), want);
        assert!(q.is_empty());
        // Emptied, it queues again from scratch.
        q.push_back(tasks[3].clone());
        assert_eq!(ids(&mut q), vec![tasks[3].id()]);
    }

    #[test]
    fn an_appended_queue_s_tasks_follow_in_their_order() {
        let tasks: Vec<RawTask> = (0..4).map(|_| task()).collect();
        let id = |i: usize| tasks[i].id();
        let mut front = queued(&tasks[..1]);
        front.append(queued(&tasks[1..3]));
        front.push_back(tasks[3].clone());
        assert_eq!(front.len(), 4);
        assert_eq!(ids(&mut front), vec![id(0), id(1), id(2), id(3)]);

        let mut empty = RunQueue::default();
        empty.append(queued(&tasks[2..3]));
        empty.append(RunQueue::default());
        assert_eq!(ids(&mut empty), vec![id(2)]);
    }

    #[test]
    fn a_dropped_queue_gives_back_every_reference() {
        let tasks: Vec<RawTask> = (0..100).map(|_| task()).collect();
        drop(queued(&tasks));
        for t in &tasks {
            assert_eq!(t.refs(), 1, "only the test's own is left");
        }
    }
}
