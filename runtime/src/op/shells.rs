//! Empty boxes of finished detached ops, kept by the worker for the next
//! submission of the same type.
//!
//! A detached op lives in a heap box from its submission to its CQE. A
//! server that queues every reply behind (`write_behind`) submits one per
//! request, and the allocator's per-thread cache does not absorb that: the
//! boxes come back from the reap dozens at a time, more than it keeps, so
//! most of them went through `malloc`'s and `free`'s slow paths (about a
//! tenth of an echo server's user-space instructions). The worker keeps
//! the emptied boxes instead, by type, and `submit_detached` refills one.

use std::any::{Any, TypeId};

/// Most empty boxes kept per type: a burst bigger than this allocates again.
const KEEP_PER_KIND: usize = 512;
/// Most types kept: a program rarely detaches more than a few kinds of op
/// (the write-behind send, per buffer type).
const MAX_KINDS: usize = 8;

/// The worker's empty detached-op boxes, by concrete type.
#[derive(Default)]
pub(crate) struct Shells {
    kinds: Vec<(TypeId, Vec<Box<dyn Any>>)>,
}

impl Shells {
    /// An empty box of type `S`, if one is kept.
    #[inline]
    pub(crate) fn take<S: 'static>(&mut self) -> Option<Box<S>> {
        let id = TypeId::of::<S>();
        let (_, kept) = self.kinds.iter_mut().find(|(kind, _)| *kind == id)?;
        kept.pop()?.downcast().ok()
    }

    /// Keeps `shell` (emptied by the caller) for a later [`Shells::take`],
    /// or drops it when enough of its type are kept.
    #[inline]
    pub(crate) fn put<S: 'static>(&mut self, shell: Box<S>) {
        let id = TypeId::of::<S>();
        let at = match self.kinds.iter().position(|(kind, _)| *kind == id) {
            Some(at) => at,
            None if self.kinds.len() < MAX_KINDS => {
                self.kinds.push((id, Vec::with_capacity(KEEP_PER_KIND)));
                self.kinds.len() - 1
            }
            None => return,
        };
        let kept = &mut self.kinds[at].1;
        if kept.len() < KEEP_PER_KIND {
            kept.push(shell);
        }
    }
}

#[cfg(test)]
impl Shells {
    /// How many empty boxes of type `S` are kept.
    pub(crate) fn kept<S: 'static>(&self) -> usize {
        let id = TypeId::of::<S>();
        self.kinds
            .iter()
            .find(|(kind, _)| *kind == id)
            .map_or(0, |(_, kept)| kept.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kept_box_comes_back_for_its_own_type_only() {
        let mut shells = Shells::default();
        let boxed = Box::new(7u64);
        let addr = &*boxed as *const u64 as usize;
        shells.put(boxed);
        assert!(shells.take::<u32>().is_none(), "another type gets nothing");
        let again = shells.take::<u64>().expect("the kept box");
        assert_eq!(&*again as *const u64 as usize, addr, "the same allocation");
        assert!(shells.take::<u64>().is_none(), "taken once");
    }

    #[test]
    fn the_number_of_kept_boxes_is_bounded() {
        let mut shells = Shells::default();
        for i in 0..KEEP_PER_KIND + 10 {
            shells.put(Box::new(i));
        }
        let mut n = 0;
        while shells.take::<usize>().is_some() {
            n += 1;
        }
        assert_eq!(n, KEEP_PER_KIND);
    }

    #[test]
    fn the_number_of_kept_types_is_bounded() {
        struct Kind<const N: usize>;
        let mut shells = Shells::default();
        shells.put(Box::new(Kind::<0>));
        shells.put(Box::new(Kind::<1>));
        shells.put(Box::new(Kind::<2>));
        shells.put(Box::new(Kind::<3>));
        shells.put(Box::new(Kind::<4>));
        shells.put(Box::new(Kind::<5>));
        shells.put(Box::new(Kind::<6>));
        shells.put(Box::new(Kind::<7>));
        shells.put(Box::new(Kind::<8>));
        assert!(shells.take::<Kind<7>>().is_some());
        assert!(
            shells.take::<Kind<8>>().is_none(),
            "a ninth type is not kept"
        );
    }
}
