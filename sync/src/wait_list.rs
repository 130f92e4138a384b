//! The waiter queue shared by every primitive's slow path.
//!
//! A [`WaitList`] is a FIFO of waiter nodes stored in a slab (a `Vec` plus a
//! free list) and linked by index, so it needs no `unsafe` and no pinning.
//! It always lives behind a lock (`Mutex<WaitList<_>>` or inside a larger
//! locked state), and is only touched on the slow path: an uncontended
//! acquire never allocates a node.
//!
//! A node has two phases:
//!
//! 1. *linked*: it is in the FIFO and may be picked by a notifier;
//! 2. *unlinked*: a notifier took it out of the FIFO (granted it permits,
//!    notified it, or closed the primitive) but the slot still belongs to the
//!    future that created it, which reads the outcome and then frees the slot
//!    with [`WaitList::remove`].
//!
//! The future that pushed a node owns its [`Key`] and must `remove` it exactly
//! once, on completion or in `Drop`. That split is what makes the waiting
//! futures cancel-safe: a dropped future can always tell whether it had been
//! granted something, and pass it on.

use std::task::Waker;

const NIL: usize = usize::MAX;

/// Identifies a node of a [`WaitList`]; held by the future that pushed it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Key(usize);

/// One waiter.
#[derive(Debug)]
pub(crate) struct Node<T> {
    /// The primitive's per-waiter data (permits still needed, notification).
    pub(crate) data: T,
    /// The waker to wake when the node is unlinked by a notifier.
    pub(crate) waker: Option<Waker>,
    linked: bool,
    prev: usize,
    next: usize,
}

impl<T> Node<T> {
    /// Whether the node is still queued (not yet picked by a notifier).
    pub(crate) fn is_linked(&self) -> bool {
        self.linked
    }

    /// Stores `waker` unless the stored one would wake the same task.
    pub(crate) fn set_waker(&mut self, waker: &Waker) {
        set_waker(&mut self.waker, waker);
    }
}

#[derive(Debug)]
enum Slot<T> {
    Vacant(usize),
    Occupied(Node<T>),
}

/// A FIFO of waiters in a slab. See the module docs.
#[derive(Debug)]
pub(crate) struct WaitList<T> {
    slots: Vec<Slot<T>>,
    free: usize,
    head: usize,
    tail: usize,
}

impl<T> Default for WaitList<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> WaitList<T> {
    /// An empty list; allocates nothing until the first push.
    pub(crate) const fn new() -> Self {
        WaitList {
            slots: Vec::new(),
            free: NIL,
            head: NIL,
            tail: NIL,
        }
    }

    /// Whether no node is linked.
    pub(crate) fn is_empty(&self) -> bool {
        self.head == NIL
    }

    /// Appends a linked node and returns its key.
    pub(crate) fn push_back(&mut self, data: T, waker: Option<Waker>) -> Key {
        let node = Node {
            data,
            waker,
            linked: true,
            prev: self.tail,
            next: NIL,
        };
        let idx = if self.free != NIL {
            let idx = self.free;
            self.free = match self.slots[idx] {
                Slot::Vacant(next) => next,
                Slot::Occupied(_) => unreachable!("wait list free list points at an occupied slot"),
            };
            self.slots[idx] = Slot::Occupied(node);
            idx
        } else {
            self.slots.push(Slot::Occupied(node));
            self.slots.len() - 1
        };
        if self.tail == NIL {
            self.head = idx;
        } else {
            self.node_at(self.tail).next = idx;
        }
        self.tail = idx;
        Key(idx)
    }

    fn node_at(&mut self, idx: usize) -> &mut Node<T> {
        match &mut self.slots[idx] {
            Slot::Occupied(n) => n,
            Slot::Vacant(_) => unreachable!("wait list key points at a vacant slot"),
        }
    }

    /// The node for `key`, mutably.
    pub(crate) fn node_mut(&mut self, key: Key) -> &mut Node<T> {
        self.node_at(key.0)
    }

    /// The first linked node.
    pub(crate) fn front(&self) -> Option<Key> {
        (self.head != NIL).then_some(Key(self.head))
    }

    /// Takes `key` out of the FIFO; its slot stays until [`remove`](Self::remove).
    pub(crate) fn unlink(&mut self, key: Key) {
        let (prev, next) = {
            let n = self.node_at(key.0);
            if !n.linked {
                return;
            }
            n.linked = false;
            (n.prev, n.next)
        };
        if prev == NIL {
            self.head = next;
        } else {
            self.node_at(prev).next = next;
        }
        if next == NIL {
            self.tail = prev;
        } else {
            self.node_at(next).prev = prev;
        }
    }

    /// Unlinks the first node and returns its key.
    pub(crate) fn pop_front(&mut self) -> Option<Key> {
        let key = self.front()?;
        self.unlink(key);
        Some(key)
    }

    /// Unlinks (if needed) and frees `key`'s slot, returning the node.
    pub(crate) fn remove(&mut self, key: Key) -> Node<T> {
        self.unlink(key);
        let slot = std::mem::replace(&mut self.slots[key.0], Slot::Vacant(self.free));
        self.free = key.0;
        match slot {
            Slot::Occupied(n) => n,
            Slot::Vacant(_) => unreachable!("wait list key removed twice"),
        }
    }

    /// Unlinks every node, calling `f` on each in FIFO order.
    pub(crate) fn drain(&mut self, mut f: impl FnMut(&mut Node<T>)) {
        while let Some(key) = self.pop_front() {
            f(self.node_at(key.0));
        }
    }
}

/// Stores a clone of `waker` in `slot` unless it already wakes the same task.
pub(crate) fn set_waker(slot: &mut Option<Waker>, waker: &Waker) {
    match slot {
        Some(w) if w.will_wake(waker) => {}
        _ => *slot = Some(waker.clone()),
    }
}

/// Wakers collected under a lock, woken after it is released.
///
/// Holds up to eight inline, so waking a few waiters allocates nothing.
#[derive(Debug, Default)]
pub(crate) struct WakeList {
    inline: [Option<Waker>; 8],
    len: usize,
    spill: Vec<Waker>,
}

impl WakeList {
    /// An empty list.
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Adds a waker (if any).
    pub(crate) fn push(&mut self, waker: Option<Waker>) {
        let Some(w) = waker else { return };
        if self.len < self.inline.len() {
            self.inline[self.len] = Some(w);
            self.len += 1;
        } else {
            self.spill.push(w);
        }
    }

    /// Wakes every collected waker. Call it with no lock held.
    pub(crate) fn wake_all(mut self) {
        for w in self.inline.iter_mut().take(self.len) {
            if let Some(w) = w.take() {
                w.wake();
            }
        }
        for w in self.spill.drain(..) {
            w.wake();
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn fifo_and_reuse() {
        let mut l = WaitList::new();
        let a = l.push_back(1, None);
        let b = l.push_back(2, None);
        let c = l.push_back(3, None);
        l.unlink(b);
        assert_eq!(l.pop_front(), Some(a));
        assert_eq!(l.pop_front(), Some(c));
        assert!(l.is_empty());
        assert_eq!(l.remove(b).data, 2);
        let d = l.push_back(4, None);
        assert_eq!(d, b, "freed slot is reused");
        assert_eq!(l.remove(a).data, 1);
        assert_eq!(l.remove(c).data, 3);
        assert_eq!(l.front(), Some(d));
        let mut seen = Vec::new();
        l.push_back(5, None);
        l.drain(|n| seen.push(n.data));
        assert_eq!(seen, vec![4, 5]);
        assert!(l.is_empty());
    }
}
