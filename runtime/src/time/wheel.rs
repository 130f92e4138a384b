//! Hierarchical timer wheel: the per-worker store of `sleep` / `timeout` /
//! `interval` deadlines.
//!
//! This is a plain data structure: no I/O, no threads, no clock reads. The
//! worker's event loop asks [`Wheel::next_deadline`] for the io_uring wait
//! timeout and then calls [`Wheel::poll`] with the current time to fire every
//! expired entry.
//!
//! # Time
//!
//! Time is measured in millisecond *ticks* since the `origin` given to
//! [`Wheel::new`]. A deadline is rounded **up** to its tick (a timer never
//! fires early: a 1.5 ms sleep fires at tick 2) and the `now` passed to
//! [`Wheel::poll`] is rounded **down** (tick 1.9 is tick 1). The wheel keeps
//! `elapsed`, the last tick it has been polled at; every entry whose tick is
//! `<= elapsed` has been fired or is waiting in the *pending* list to be
//! fired by the next poll. Time never goes backwards: polling with an earlier
//! `now` than before does not move `elapsed`.
//!
//! # Levels
//!
//! There are [`LEVELS`] = 6 levels of [`SLOTS`] = 64 slots each. A slot of
//! level `n` covers `64^n` ms and a whole level covers `64^(n+1)` ms:
//!
//! | level | slot width      | level range      |
//! |-------|-----------------|------------------|
//! | 0     | 1 ms            | 64 ms            |
//! | 1     | 64 ms           | ~4 s             |
//! | 2     | ~4 s            | ~4.5 min         |
//! | 3     | ~4.5 min        | ~4.8 h           |
//! | 4     | ~4.8 h          | ~12.7 days       |
//! | 5     | ~12.7 days      | ~2.2 years       |
//!
//! Think of a tick as a number written in base 64: digit `n` of the tick is
//! its slot index on level `n`. An entry with tick `when` lives on the level
//! of the most significant digit in which `when` differs from `elapsed`, in
//! the slot given by that digit of `when`. So level 0 holds what expires
//! within the current 64 ms block, level 1 what expires within the current
//! ~4 s block but not the current 64 ms one, and so on. Consequently every
//! entry on a lower level expires before every entry on a higher level, and
//! within a level the slots are ordered by their index relative to the
//! current slot.
//!
//! # Cascading
//!
//! When time reaches the start of an occupied slot of level `n > 0`, the
//! slot is emptied and each entry is either moved to the pending list (its
//! tick is exactly the slot start) or re-inserted relative to the new
//! `elapsed`, which puts it on a strictly lower level. Every entry therefore
//! moves at most `LEVELS - 1` times in its life. Deadlines further away than
//! the top level's range (~2.2 years) are clamped to the top level, whose
//! slots then act as a ring: such an entry is visited once per top-level
//! rotation and re-inserted until it comes near. Its real tick is always
//! kept, so it never fires early. If a single poll jumps more than a whole
//! top-level rotation ahead while only such far entries remain, the wheel
//! fast-forwards (one O(entries) re-link) instead of visiting every rotation.
//!
//! # Why it is O(1)
//!
//! Entries live in a [`Slab`]; each slot (and the pending list) is an
//! intrusive doubly linked list threaded through the slab by `u32` keys.
//! Insert is "compute level and slot with a XOR and a `leading_zeros`, append
//! to a list"; cancel is "unlink from its list", where the list is recomputed
//! from the entry's tick and `elapsed` (no back pointer needed). Each level
//! keeps a `u64` occupancy bitmap, so the next non-empty slot of a level is a
//! `rotate_right` + `trailing_zeros`, and [`Wheel::next_deadline`] is
//! `O(LEVELS)` with no allocation.
//!
//! # Order
//!
//! Entries fire in tick order; entries with the same tick fire in insertion
//! order (lists are FIFO and cascading preserves the relative order). Entries
//! inserted with a tick that has already been reached are due immediately:
//! they go to the pending list and fire, in insertion order, at the very
//! next poll, before anything else.

use std::fmt;
use std::time::{Duration, Instant};

use slab::Slab;

/// Number of levels in the hierarchy.
const LEVELS: usize = 6;

/// log2 of the number of slots per level.
const SLOT_BITS: u32 = 6;

/// Number of slots per level (bits in the occupancy bitmap).
const SLOTS: usize = 1 << SLOT_BITS;

/// Mask extracting one level's digit from a tick.
const SLOT_MASK: u64 = (SLOTS as u64) - 1;

/// Ticks covered by the whole wheel (the top level's range): `64^6` ms,
/// about 2.2 years. Further deadlines are clamped to the top level.
const MAX_DURATION: u64 = 1 << (SLOT_BITS * LEVELS as u32);

/// Largest tick the wheel works with (~146 million years). Larger deadlines
/// and times are saturated to it, which keeps all tick arithmetic (at most
/// `elapsed + 2 * MAX_DURATION`) far from overflowing.
const MAX_TICK: u64 = 1 << 62;

/// "No entry" sentinel for the intrusive list links.
const NIL: u32 = u32::MAX;

/// Identifies one entry of a [`Wheel`], as returned by [`Wheel::insert`].
///
/// Holds the entry's slab index and a generation number, so that a key whose
/// entry already fired or was removed does not match a later entry reusing
/// the same slab index (until the 32-bit generation counter wraps, i.e. after
/// 2^32 further insertions).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct TimerKey {
    /// Index of the entry in the wheel's slab.
    index: u32,
    /// Generation stamped on the entry at insertion.
    generation: u32,
}

/// One timer stored in the slab.
///
/// Size: `size_of::<T>()` + 20 bytes (`u64` tick + three `u32`), rounded up
/// to the alignment. For `T = Waker` (16 bytes) an `Entry` is 40 bytes and,
/// thanks to `Waker`'s non-null niche, so is the slab slot holding it: one
/// million timers take about 40 MB. (With a `u64`-sized `T` that has no
/// niche, such as a plain integer, the slab slot is 40 bytes too: 32 + tag.)
struct Entry<T> {
    /// The user's value, handed to the `fire` callback.
    value: T,
    /// Deadline in ticks since the origin (rounded up, saturated to
    /// `MAX_TICK`).
    when: u64,
    /// Previous entry in the same list, or `NIL`.
    prev: u32,
    /// Next entry in the same list, or `NIL`.
    next: u32,
    /// Generation this entry was inserted with (see [`TimerKey`]).
    generation: u32,
}

/// Head and tail of an intrusive FIFO list of slab entries.
#[derive(Clone, Copy)]
struct List {
    /// First entry, or `NIL` when empty.
    head: u32,
    /// Last entry, or `NIL` when empty.
    tail: u32,
}

impl List {
    /// The empty list.
    const EMPTY: List = List {
        head: NIL,
        tail: NIL,
    };

    /// Whether the list has no entries.
    fn is_empty(&self) -> bool {
        self.head == NIL
    }

    /// Appends entry `idx` (which must not be in any list) at the tail.
    fn push_back<T>(&mut self, slab: &mut Slab<Entry<T>>, idx: u32) {
        let entry = &mut slab[idx as usize];
        entry.prev = self.tail;
        entry.next = NIL;
        if self.tail == NIL {
            self.head = idx;
        } else {
            slab[self.tail as usize].next = idx;
        }
        self.tail = idx;
    }

    /// Unlinks entry `idx`, which must be in this list.
    fn unlink<T>(&mut self, slab: &mut Slab<Entry<T>>, idx: u32) {
        let (prev, next) = {
            let entry = &slab[idx as usize];
            (entry.prev, entry.next)
        };
        if prev == NIL {
            self.head = next;
        } else {
            slab[prev as usize].next = next;
        }
        if next == NIL {
            self.tail = prev;
        } else {
            slab[next as usize].prev = prev;
        }
    }

    /// Unlinks and returns the first entry, if any.
    fn pop_front<T>(&mut self, slab: &mut Slab<Entry<T>>) -> Option<u32> {
        let idx = self.head;
        if idx == NIL {
            return None;
        }
        self.unlink(slab, idx);
        Some(idx)
    }
}

/// One level of the hierarchy: 64 slot lists plus an occupancy bitmap.
struct Level {
    /// Bit `i` is set iff `slots[i]` is non-empty.
    occupied: u64,
    /// The slot lists.
    slots: [List; SLOTS],
}

impl Level {
    /// An empty level.
    const EMPTY: Level = Level {
        occupied: 0,
        slots: [List::EMPTY; SLOTS],
    };

    /// Appends entry `idx` to slot `slot`.
    fn push<T>(&mut self, slab: &mut Slab<Entry<T>>, slot: usize, idx: u32) {
        self.slots[slot].push_back(slab, idx);
        self.occupied |= 1 << slot;
    }

    /// Unlinks entry `idx` from slot `slot`, where it must be.
    fn unlink<T>(&mut self, slab: &mut Slab<Entry<T>>, slot: usize, idx: u32) {
        let list = &mut self.slots[slot];
        list.unlink(slab, idx);
        if list.is_empty() {
            self.occupied &= !(1 << slot);
        }
    }

    /// Detaches and returns the whole list of slot `slot`.
    fn take(&mut self, slot: usize) -> List {
        self.occupied &= !(1 << slot);
        std::mem::replace(&mut self.slots[slot], List::EMPTY)
    }
}

/// A slot that is the next to expire: where it is and when it expires.
#[derive(Clone, Copy)]
struct Expiration {
    /// Level of the slot.
    level: usize,
    /// Index of the slot within its level.
    slot: usize,
    /// Tick at which the slot starts (when it must be processed).
    deadline: u64,
}

/// Ticks covered by one slot of `level`.
fn slot_range(level: usize) -> u64 {
    1 << (SLOT_BITS * level as u32)
}

/// Ticks covered by the whole of `level`.
fn level_range(level: usize) -> u64 {
    1 << (SLOT_BITS * (level as u32 + 1))
}

/// Level on which an entry due at `when` lives while the wheel is at
/// `elapsed` (requires `when > elapsed`): the level of the most significant
/// base-64 digit in which they differ, clamped to the top level.
fn level_for(elapsed: u64, when: u64) -> usize {
    let mut masked = (elapsed ^ when) | SLOT_MASK;
    if masked >= MAX_DURATION {
        masked = MAX_DURATION - 1;
    }
    let significant = 63 - masked.leading_zeros();
    (significant / SLOT_BITS) as usize
}

/// Slot of `level` holding an entry due at `when`.
fn slot_for(when: u64, level: usize) -> usize {
    ((when >> (SLOT_BITS * level as u32)) & SLOT_MASK) as usize
}

/// A hierarchical timer wheel with millisecond resolution, storing one `T`
/// per timer. See the [module documentation](self) for the design.
pub(crate) struct Wheel<T> {
    /// Tick 0.
    origin: Instant,
    /// Last tick the wheel was polled at (or advanced to while polling).
    elapsed: u64,
    /// Generation given to the next inserted entry.
    next_generation: u32,
    /// Storage of all live entries.
    slab: Slab<Entry<T>>,
    /// Entries due at or before `elapsed`, waiting to fire on the next poll.
    pending: List,
    /// The levels, boxed to keep `Wheel` small (they are ~3 KiB).
    levels: Box<[Level; LEVELS]>,
}

impl<T> Wheel<T> {
    /// Creates an empty wheel whose tick 0 is `origin`.
    pub(crate) fn new(origin: Instant) -> Self {
        Wheel {
            origin,
            elapsed: 0,
            next_generation: 0,
            slab: Slab::new(),
            pending: List::EMPTY,
            levels: Box::new([Level::EMPTY; LEVELS]),
        }
    }

    /// Registers `value` to fire at `deadline` (rounded up to the next
    /// millisecond tick) and returns the key to cancel it with.
    ///
    /// A deadline at or before the last polled tick (including one before
    /// the origin) fires on the next call to [`poll`](Self::poll), whatever
    /// its `now`. O(1).
    ///
    /// # Panics
    ///
    /// Only if the wheel would hold more than `u32::MAX - 1` entries (the
    /// links are `u32`), which needs well over 80 GiB of memory.
    pub(crate) fn insert(&mut self, deadline: Instant, value: T) -> TimerKey {
        let when = self.deadline_tick(deadline);
        let index = self.slab.vacant_key();
        assert!(index < NIL as usize, "timer wheel: too many entries");
        let index = index as u32;
        let generation = self.next_generation;
        self.next_generation = generation.wrapping_add(1);
        self.slab.insert(Entry {
            value,
            when,
            prev: NIL,
            next: NIL,
            generation,
        });
        self.link(index, when);
        TimerKey { index, generation }
    }

    /// Cancels the entry identified by `key` and returns its value.
    ///
    /// Returns `None`, and changes nothing, if that entry already fired or
    /// was removed, even if its slab slot now holds a newer entry. O(1).
    pub(crate) fn remove(&mut self, key: TimerKey) -> Option<T> {
        let entry = self.slab.get(key.index as usize)?;
        if entry.generation != key.generation {
            return None;
        }
        let when = entry.when;
        if when <= self.elapsed {
            self.pending.unlink(&mut self.slab, key.index);
        } else {
            let level = level_for(self.elapsed, when);
            self.levels[level].unlink(&mut self.slab, slot_for(when, level), key.index);
        }
        Some(self.slab.remove(key.index as usize).value)
    }

    /// The value of a pending entry, to update it in place (for example a
    /// timer's waker); `None` if `key` already fired or was removed.
    pub(crate) fn get_mut(&mut self, key: TimerKey) -> Option<&mut T> {
        let entry = self.slab.get_mut(key.index as usize)?;
        (entry.generation == key.generation).then_some(&mut entry.value)
    }

    /// The instant at which [`poll`](Self::poll) will next have work to do,
    /// or `None` if the wheel is empty.
    ///
    /// Never later than the earliest entry's tick. It may be earlier (the
    /// start of a higher-level slot that must be cascaded); polling then
    /// fires nothing (or only what is due) and this reports the next deadline
    /// again. If entries are already due, this returns the last polled tick,
    /// which is not after the current time. O(`LEVELS`), no allocation.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        let tick = if self.pending.is_empty() {
            self.next_expiration()?.deadline
        } else {
            self.elapsed
        };
        self.tick_to_instant(tick)
    }

    /// Advances the wheel to `now` (rounded down to its tick) and calls
    /// `fire` with the value of every entry whose tick is `<= now`'s tick,
    /// in tick order (ties in insertion order), removing them.
    ///
    /// Entries that were already due (inserted with a past deadline) fire
    /// first. A `now` earlier than a previous poll does not move time back:
    /// it only fires such already-due entries. Amortized O(1) per entry plus
    /// O(`LEVELS`) per visited slot.
    ///
    /// If `fire` panics, the wheel stays consistent: the entry being fired is
    /// gone and the other due entries fire on the next poll.
    pub(crate) fn poll(&mut self, now: Instant, mut fire: impl FnMut(T)) {
        let now = self.now_tick(now).max(self.elapsed);
        loop {
            while let Some(idx) = self.pending.pop_front(&mut self.slab) {
                let entry = self.slab.remove(idx as usize);
                fire(entry.value);
            }
            match self.next_expiration() {
                Some(expiration) if expiration.deadline <= now => {
                    if expiration.level == LEVELS - 1
                        && now - expiration.deadline >= MAX_DURATION
                        && self.fast_forward(now, expiration.deadline)
                    {
                        continue;
                    }
                    self.process_expiration(expiration);
                }
                _ => break,
            }
        }
        self.elapsed = now;
    }

    /// Number of entries (pending or not yet due).
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) fn len(&self) -> usize {
        self.slab.len()
    }

    /// Whether the wheel holds no entries.
    pub(crate) fn is_empty(&self) -> bool {
        self.slab.is_empty()
    }

    /// Puts entry `idx`, due at `when` and in no list, into the list it
    /// belongs to given the current `elapsed`.
    fn link(&mut self, idx: u32, when: u64) {
        if when <= self.elapsed {
            self.pending.push_back(&mut self.slab, idx);
        } else {
            let level = level_for(self.elapsed, when);
            self.levels[level].push(&mut self.slab, slot_for(when, level), idx);
        }
    }

    /// The earliest occupied slot of the wheel (pending list excluded).
    ///
    /// The lowest non-empty level holds the earliest entries. Within it the
    /// slots are searched starting just after `elapsed`'s slot: below the top
    /// level an entry's slot is always strictly after it. Only the top level
    /// can hold slots at or "behind" `elapsed`'s (clamped far deadlines);
    /// those belong to the next rotation, so `elapsed`'s own slot is searched
    /// last.
    fn next_expiration(&self) -> Option<Expiration> {
        self.levels
            .iter()
            .enumerate()
            .find(|(_, level)| level.occupied != 0)
            .map(|(level, l)| {
                let first = (slot_for(self.elapsed, level) + 1) % SLOTS;
                let zeros = l.occupied.rotate_right(first as u32).trailing_zeros() as usize;
                let slot = (first + zeros) % SLOTS;
                let level_start = self.elapsed & !(level_range(level) - 1);
                let mut deadline = level_start + slot as u64 * slot_range(level);
                if deadline <= self.elapsed {
                    // Only possible on the top level, whose slots form a
                    // ring for deadlines beyond the wheel's range.
                    debug_assert_eq!(level, LEVELS - 1);
                    deadline += level_range(level);
                }
                Expiration {
                    level,
                    slot,
                    deadline,
                }
            })
    }

    /// Processes the slot `expiration` once time reaches its start: entries
    /// due exactly then go to the pending list, the others are re-inserted
    /// (cascaded) relative to the new `elapsed`, which is the slot start.
    /// Calls no user code.
    fn process_expiration(&mut self, expiration: Expiration) {
        let list = self.levels[expiration.level].take(expiration.slot);
        self.elapsed = expiration.deadline;
        let mut idx = list.head;
        while idx != NIL {
            let (next, when) = {
                let entry = &self.slab[idx as usize];
                (entry.next, entry.when)
            };
            self.link(idx, when);
            idx = next;
        }
    }

    /// Jumps over empty top-level rotations when `now` is far ahead.
    ///
    /// Called when the next expiration (at `deadline`) is on the top level,
    /// so the lower levels are empty, and `now` is at least a full top-level
    /// rotation later. Slot-by-slot processing would then visit every clamped
    /// far entry once per rotation (~2.2 years of ticks), which is unbounded
    /// work for an absurd jump of `now`. Instead, moves `elapsed` to just
    /// before the earliest entry (or to `now`) and re-links every entry:
    /// O(entries). Ties stay in order since they share a slot. Returns
    /// `false`, changing nothing, if that would not get past `deadline`.
    fn fast_forward(&mut self, now: u64, deadline: u64) -> bool {
        let top = &self.levels[LEVELS - 1];
        let mut min_when = u64::MAX;
        for list in &top.slots {
            let mut idx = list.head;
            while idx != NIL {
                let entry = &self.slab[idx as usize];
                min_when = min_when.min(entry.when);
                idx = entry.next;
            }
        }
        // Every wheel entry is due after `elapsed`, so this is >= `elapsed`.
        let target = now.min(min_when - 1);
        if target < deadline {
            return false;
        }
        self.elapsed = target;
        for slot in 0..SLOTS {
            let list = self.levels[LEVELS - 1].take(slot);
            let mut idx = list.head;
            while idx != NIL {
                let (next, when) = {
                    let entry = &self.slab[idx as usize];
                    (entry.next, entry.when)
                };
                self.link(idx, when);
                idx = next;
            }
        }
        true
    }

    /// `deadline` as a tick, rounded up, before-origin → 0, saturated.
    fn deadline_tick(&self, deadline: Instant) -> u64 {
        let since = deadline.saturating_duration_since(self.origin);
        let ms = since.as_millis() + u128::from(since.subsec_nanos() % 1_000_000 != 0);
        u64::try_from(ms).map_or(MAX_TICK, |ms| ms.min(MAX_TICK))
    }

    /// `now` as a tick, rounded down, before-origin → 0, saturated.
    fn now_tick(&self, now: Instant) -> u64 {
        let ms = now.saturating_duration_since(self.origin).as_millis();
        u64::try_from(ms).map_or(MAX_TICK, |ms| ms.min(MAX_TICK))
    }

    /// The instant of `tick`. If it is not representable (only possible for
    /// the rounded-up tick of a deadline at the very end of `Instant`'s
    /// range), the tick before it, which is; `None` if neither is.
    fn tick_to_instant(&self, tick: u64) -> Option<Instant> {
        self.origin
            .checked_add(Duration::from_millis(tick))
            .or_else(|| {
                self.origin
                    .checked_add(Duration::from_millis(tick.saturating_sub(1)))
            })
    }
}

impl<T> fmt::Debug for Wheel<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Wheel")
            .field("origin", &self.origin)
            .field("elapsed_ms", &self.elapsed)
            .field("len", &self.slab.len())
            .field("next_deadline", &self.next_deadline())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;
    use std::task::Waker;

    /// Deterministic xorshift64* generator.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }

        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
    }

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn us(n: u64) -> Duration {
        Duration::from_micros(n)
    }

    /// Expected tick of a deadline `d` after the origin (rounded up).
    fn tick_of(d: Duration) -> u64 {
        let nanos = d.as_nanos();
        nanos.div_ceil(1_000_000) as u64
    }

    const HOUR_US: u64 = 3_600_000_000;

    /// A random deadline offset in µs: a mix of near, medium and far.
    fn random_offset(rng: &mut Rng) -> u64 {
        match rng.below(4) {
            0 => rng.below(3_000_000),   // first 3 s
            1 => rng.below(300_000_000), // 5 min
            2 => rng.below(5 * HOUR_US), // hours
            _ => rng.below(64) * 1000,   // exact ms ticks, many ties
        }
    }

    /// Checks the fired sequence: each id exactly once, in (tick, id) order.
    struct Checker {
        ticks: Vec<u64>,
        fired_at: Vec<Option<u64>>,
        last: Option<(u64, usize)>,
        pending: BTreeSet<(u64, usize)>,
    }

    impl Checker {
        fn new() -> Self {
            Checker {
                ticks: Vec::new(),
                fired_at: Vec::new(),
                last: None,
                pending: BTreeSet::new(),
            }
        }

        fn add(&mut self, tick: u64) -> usize {
            let id = self.ticks.len();
            self.ticks.push(tick);
            self.fired_at.push(None);
            self.pending.insert((tick, id));
            id
        }

        fn fire(&mut self, id: usize, now_tick: u64) {
            assert!(self.fired_at[id].is_none(), "entry {id} fired twice");
            let tick = self.ticks[id];
            assert!(
                tick <= now_tick,
                "entry {id} (tick {tick}) fired early at {now_tick}"
            );
            if let Some(last) = self.last {
                assert!(last < (tick, id), "order: {last:?} then {:?}", (tick, id));
            }
            self.last = Some((tick, id));
            self.fired_at[id] = Some(now_tick);
            assert!(self.pending.remove(&(tick, id)));
        }
    }

    #[test]
    fn fires_in_order_across_levels() {
        let origin = Instant::now();
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let mut wheel = Wheel::new(origin);
        let mut check = Checker::new();
        for _ in 0..20_000 {
            let off = us(random_offset(&mut rng));
            let id = check.add(tick_of(off));
            wheel.insert(origin + off, id);
        }
        assert_eq!(wheel.len(), 20_000);

        // Every ms for the first 4 s: entries must fire exactly at their tick.
        let mut now = 0;
        while now <= 4_000 {
            let deadline = wheel.next_deadline().unwrap();
            let earliest = check.pending.first().unwrap().0;
            assert!(deadline <= origin + ms(earliest), "next_deadline too late");
            wheel.poll(origin + ms(now) + us(999), |id| check.fire(id, now));
            now += 1;
        }
        for (id, &tick) in check.ticks.iter().enumerate() {
            if tick <= 4_000 {
                assert_eq!(check.fired_at[id], Some(tick), "entry {id} late");
            }
        }
        // Then random steps up to 6 h.
        while now < 6 * 3_600_000 {
            now += rng.below(200_000);
            if let Some(&(earliest, _)) = check.pending.first() {
                let deadline = wheel.next_deadline().unwrap();
                assert!(deadline <= origin + ms(earliest), "next_deadline too late");
            }
            wheel.poll(origin + ms(now), |id| check.fire(id, now));
            assert_eq!(wheel.len(), check.pending.len());
        }
        assert!(check.pending.is_empty());
        assert!(check.fired_at.iter().all(Option::is_some));
        assert!(wheel.is_empty());
        assert_eq!(wheel.next_deadline(), None);
    }

    /// Simulates the event loop: sleep exactly until `next_deadline`, poll.
    /// Every entry must fire exactly at its tick, including far ones.
    #[test]
    fn event_loop_fires_exactly_on_time() {
        let origin = Instant::now();
        let mut rng = Rng(12345);
        let mut wheel = Wheel::new(origin);
        let mut check = Checker::new();
        for i in 0..5_000 {
            let off = match i % 5 {
                0 => ms(rng.below(MAX_DURATION * 3)), // beyond the wheel range
                1 => ms(rng.below(MAX_DURATION)),
                2 => ms(rng.below(1 << 24)),
                3 => us(rng.below(1 << 30)),
                _ => us(rng.below(100_000)),
            };
            let id = check.add(tick_of(off));
            wheel.insert(origin + off, id);
        }
        let mut iterations = 0;
        while let Some(deadline) = wheel.next_deadline() {
            iterations += 1;
            let earliest = check.pending.first().unwrap().0;
            assert!(deadline <= origin + ms(earliest));
            let now = tick_of(deadline - origin);
            wheel.poll(deadline, |id| check.fire(id, now));
        }
        assert!(iterations < 5_000 * LEVELS * 2, "{iterations} iterations");
        for (id, &tick) in check.ticks.iter().enumerate() {
            assert_eq!(check.fired_at[id], Some(tick), "entry {id}");
        }
        assert!(wheel.is_empty());
    }

    #[test]
    fn removed_entries_never_fire() {
        let origin = Instant::now();
        let mut rng = Rng(777);
        let mut wheel = Wheel::new(origin);
        let mut keys = Vec::new();
        for id in 0..10_000u64 {
            let off = us(random_offset(&mut rng));
            keys.push(wheel.insert(origin + off, id));
        }
        // Advance a bit so some entries are pending / cascaded.
        let mut fired = vec![false; keys.len()];
        wheel.poll(origin + ms(100), |id| fired[id as usize] = true);
        let mut removed = vec![false; keys.len()];
        for (id, key) in keys.iter().enumerate() {
            if rng.below(2) == 0 {
                let got = wheel.remove(*key);
                if fired[id] {
                    assert_eq!(got, None);
                } else {
                    assert_eq!(got, Some(id as u64));
                    removed[id] = true;
                }
                assert_eq!(wheel.remove(*key), None, "second remove");
            }
        }
        let expected = (0..keys.len())
            .filter(|&i| !fired[i] && !removed[i])
            .count();
        assert_eq!(wheel.len(), expected);
        wheel.poll(origin + ms(24 * 3_600_000), |id| {
            let id = id as usize;
            assert!(!removed[id], "removed entry {id} fired");
            assert!(!fired[id], "entry {id} fired twice");
            fired[id] = true;
        });
        assert!(wheel.is_empty());
        assert!((0..keys.len()).all(|i| fired[i] != removed[i]));
    }

    #[test]
    fn stale_key_is_harmless() {
        let origin = Instant::now();
        let mut wheel = Wheel::new(origin);
        let a = wheel.insert(origin + ms(5), "a");
        let mut fired = Vec::new();
        wheel.poll(origin + ms(5), |v| fired.push(v));
        assert_eq!(fired, ["a"]);
        let b = wheel.insert(origin + ms(10), "b");
        assert_eq!(a.index, b.index, "slab slot should be reused");
        assert_ne!(a, b);
        assert_eq!(wheel.remove(a), None);
        assert_eq!(wheel.len(), 1);
        wheel.poll(origin + ms(10), |v| fired.push(v));
        assert_eq!(fired, ["a", "b"]);
        assert_eq!(wheel.remove(b), None);

        // Same with removal instead of firing.
        let c = wheel.insert(origin + ms(20), "c");
        assert_eq!(wheel.remove(c), Some("c"));
        let d = wheel.insert(origin + ms(20), "d");
        assert_eq!(wheel.remove(c), None);
        assert_eq!(wheel.remove(d), Some("d"));
    }

    #[test]
    fn next_deadline() {
        let origin = Instant::now();
        let mut wheel = Wheel::new(origin);
        assert_eq!(wheel.next_deadline(), None);

        // Level 0: exact.
        let k = wheel.insert(origin + us(1_500), ());
        assert_eq!(wheel.next_deadline(), Some(origin + ms(2)));
        wheel.remove(k);
        assert_eq!(wheel.next_deadline(), None);

        // Higher level: rounded to the slot start, never after.
        wheel.insert(origin + ms(1_000_000), ());
        let d = wheel.next_deadline().unwrap();
        assert!(d <= origin + ms(1_000_000));
        assert!(d > origin);
        // Polling there cascades; repeated, it converges on the exact tick.
        let mut fired = 0;
        let mut steps = 0;
        while let Some(d) = wheel.next_deadline() {
            assert!(d <= origin + ms(1_000_000));
            steps += 1;
            wheel.poll(d, |()| fired += 1);
        }
        assert_eq!(fired, 1);
        assert!(steps <= LEVELS);

        // A past deadline is due now: next_deadline is not after the last poll.
        wheel.poll(origin + ms(2_000_000), |()| {});
        wheel.insert(origin + ms(10), ());
        assert!(wheel.next_deadline().unwrap() <= origin + ms(2_000_000));
        wheel.insert(origin + ms(2_000_005), ());
        assert!(wheel.next_deadline().unwrap() <= origin + ms(2_000_000));
        let mut fired = 0;
        wheel.poll(origin + ms(2_000_000), |()| fired += 1);
        assert_eq!(fired, 1);
        assert_eq!(wheel.next_deadline(), Some(origin + ms(2_000_005)));
    }

    #[test]
    fn rounding() {
        let origin = Instant::now();
        let mut wheel = Wheel::new(origin);
        wheel.insert(origin + us(1_500), 1);
        wheel.insert(origin + ms(2), 2);
        wheel.insert(origin + Duration::from_nanos(2_000_001), 3);
        let mut fired = Vec::new();
        wheel.poll(origin + us(1_999), |v| fired.push(v));
        assert!(fired.is_empty(), "fired early: {fired:?}");
        wheel.poll(origin + ms(2), |v| fired.push(v));
        assert_eq!(fired, [1, 2]);
        wheel.poll(origin + us(2_999), |v| fired.push(v));
        assert_eq!(fired, [1, 2]);
        wheel.poll(origin + ms(3), |v| fired.push(v));
        assert_eq!(fired, [1, 2, 3]);
    }

    #[test]
    fn deadline_at_origin_and_in_past() {
        let origin = Instant::now();
        let mut wheel = Wheel::new(origin);
        wheel.insert(origin, 1);
        let mut expected = vec![1];
        if let Some(before) = origin.checked_sub(Duration::from_secs(10)) {
            wheel.insert(before, 2);
            expected.push(2);
        }
        let mut fired = Vec::new();
        wheel.poll(origin, |v| fired.push(v));
        assert_eq!(fired, expected);
        assert!(wheel.is_empty());

        // Inserted in the past after time advanced: fires on the next poll,
        // even with the same (or an earlier) now.
        wheel.poll(origin + ms(500), |_| unreachable!());
        wheel.insert(origin + ms(100), 3);
        wheel.insert(origin + ms(500), 4);
        wheel.insert(origin + ms(501), 5);
        fired.clear();
        wheel.poll(origin + ms(500), |v| fired.push(v));
        assert_eq!(fired, [3, 4]);
        wheel.insert(origin + ms(1), 6);
        wheel.poll(origin + ms(3), |v| fired.push(v));
        assert_eq!(fired, [3, 4, 6]);
        wheel.poll(origin + ms(501), |v| fired.push(v));
        assert_eq!(fired, [3, 4, 6, 5]);
    }

    #[test]
    fn ties_fire_in_insertion_order() {
        let origin = Instant::now();
        let mut wheel = Wheel::new(origin);
        let target = origin + ms(10_000_000); // level 3 at first
        let mut next = 0;
        let mut fired = Vec::new();
        // Insert ties at various times, so that they are inserted on
        // different levels and cascade between insertions.
        for step in [0, 1, 70, 5_000, 300_000, 9_000_000, 9_999_000, 9_999_990] {
            wheel.poll(origin + ms(step), |v| fired.push(v));
            for _ in 0..10 {
                wheel.insert(target, next);
                next += 1;
            }
            // An earlier and a later entry too (these get ids in between,
            // but fire before / after all ties).
            wheel.insert(target - ms(1), 1_000 + next);
            wheel.insert(target + ms(1), 2_000 + next);
        }
        assert!(fired.is_empty());
        wheel.poll(target, |v| fired.push(v));
        let ties: Vec<i32> = fired.iter().copied().filter(|&v| v < 1_000).collect();
        assert_eq!(ties, (0..next).collect::<Vec<_>>());
        assert!(fired[..8].iter().all(|&v| (1_000..2_000).contains(&v)));
        assert_eq!(fired.len(), 8 + next as usize);
        wheel.poll(target + ms(1), |v| fired.push(v));
        assert!(fired[8 + next as usize..].iter().all(|&v| v >= 2_000));
        assert!(wheel.is_empty());
    }

    #[test]
    fn earlier_now_is_a_noop() {
        let origin = Instant::now();
        let mut wheel = Wheel::new(origin);
        wheel.insert(origin + ms(50), 1);
        wheel.insert(origin + ms(150), 2);
        let mut fired = Vec::new();
        wheel.poll(origin + ms(100), |v| fired.push(v));
        assert_eq!(fired, [1]);
        wheel.poll(origin + ms(10), |v| fired.push(v));
        wheel.poll(origin, |v| fired.push(v));
        assert_eq!(fired, [1]);
        assert_eq!(wheel.len(), 1);
        // Entry 2 is on level 1 (slot starting at tick 128).
        assert_eq!(wheel.next_deadline(), Some(origin + ms(128)));
        // Time did not go back: an entry for tick 60 is already due.
        wheel.insert(origin + ms(60), 3);
        wheel.poll(origin + ms(10), |v| fired.push(v));
        assert_eq!(fired, [1, 3]);
        wheel.poll(origin + ms(150), |v| fired.push(v));
        assert_eq!(fired, [1, 3, 2]);
    }

    #[test]
    fn huge_deadlines_are_clamped_not_early() {
        let origin = Instant::now();
        let mut wheel = Wheel::new(origin);
        let three_years = ms(3 * 365 * 24 * 3_600_000);
        wheel.insert(origin + three_years, 1);
        let far = origin.checked_add(Duration::from_secs(u64::MAX / 4));
        if let Some(far) = far {
            wheel.insert(far, 2);
        }
        let mut fired = Vec::new();
        wheel.poll(origin + three_years - ms(1), |v| fired.push(v));
        assert!(fired.is_empty());
        wheel.poll(origin + three_years, |v| fired.push(v));
        assert_eq!(fired, [1]);
        if let Some(far) = far {
            assert!(wheel.next_deadline().is_some());
            wheel.poll(far, |v| fired.push(v));
            assert_eq!(fired, [1, 2]);
        }
        assert!(wheel.is_empty());
        // Polling at an unrepresentably late tick saturates.
        if let Some(far) = far {
            wheel.insert(far + ms(10), 3);
            wheel.poll(far + ms(10), |v| fired.push(v));
            assert_eq!(fired.last(), Some(&3));
        }
    }

    #[test]
    fn far_jump_fires_far_entries_in_order() {
        let origin = Instant::now();
        let mut rng = Rng(99);
        let mut wheel = Wheel::new(origin);
        let mut check = Checker::new();
        // Entries decades apart, with ties, plus a few near ones.
        for i in 0..300u64 {
            let off = match i % 3 {
                0 => ms(rng.below(1 << 44)),
                1 => ms((rng.below(8) + 1) << 40),
                _ => ms(rng.below(10_000)),
            };
            let id = check.add(tick_of(off));
            wheel.insert(origin + off, id);
        }
        let mut now = 0;
        for step in [5_000, 1 << 41, 1 << 43, 1 << 45] {
            now += step;
            wheel.poll(origin + ms(now), |id| check.fire(id, now));
            assert!(check.pending.iter().all(|&(tick, _)| tick > now));
            assert_eq!(wheel.len(), check.pending.len());
        }
        assert!(wheel.is_empty());
    }

    /// Random interleaving of inserts (past, near, far, beyond the range),
    /// removes and polls (small steps, earlier `now`s, huge jumps), checked
    /// against a simple ordered-map model after every operation.
    #[test]
    fn matches_model() {
        use std::collections::BTreeMap;
        let origin = Instant::now();
        let mut rng = Rng(0xdead_beef);
        let mut wheel = Wheel::new(origin);
        // (due tick clamped to the insertion-time tick, seq) -> value.
        let mut model: BTreeMap<(u64, u64), u64> = BTreeMap::new();
        let mut keys: Vec<(TimerKey, (u64, u64))> = Vec::new();
        let mut elapsed = 0u64;
        let mut seq = 0u64;
        for _ in 0..200_000 {
            match rng.below(10) {
                0..=4 => {
                    let off = match rng.below(6) {
                        0 => us(elapsed * 1000 - rng.below(elapsed * 1000 + 1)),
                        1 => us(elapsed * 1000 + rng.below(100_000)),
                        2 => ms(elapsed + rng.below(10_000)),
                        3 => ms(elapsed + rng.below(1 << 30)),
                        4 => ms(elapsed + rng.below(MAX_DURATION * 2)),
                        _ => ms(elapsed + rng.below(64)),
                    };
                    let k = (tick_of(off).max(elapsed), seq);
                    keys.push((wheel.insert(origin + off, seq), k));
                    model.insert(k, seq);
                    seq += 1;
                }
                5 | 6 if !keys.is_empty() => {
                    let i = rng.below(keys.len() as u64) as usize;
                    let (key, k) = keys.swap_remove(i);
                    assert_eq!(wheel.remove(key), model.remove(&k));
                }
                _ => {
                    let now = match rng.below(20) {
                        0 => elapsed.saturating_sub(rng.below(1000)),
                        1 => elapsed + rng.below(MAX_DURATION * 3),
                        2..=5 => elapsed + rng.below(1 << 20),
                        _ => elapsed + rng.below(100),
                    };
                    elapsed = elapsed.max(now);
                    let mut fired = Vec::new();
                    wheel.poll(origin + ms(now) + us(rng.below(1000)), |v| fired.push(v));
                    let due: Vec<(u64, u64)> =
                        model.range(..(elapsed + 1, 0)).map(|(k, _)| *k).collect();
                    let expected: Vec<u64> = due.iter().map(|k| model.remove(k).unwrap()).collect();
                    assert_eq!(fired, expected);
                }
            }
            assert_eq!(wheel.len(), model.len());
            match model.keys().next() {
                None => assert_eq!(wheel.next_deadline(), None),
                Some(&(tick, _)) => {
                    let d = wheel.next_deadline().unwrap();
                    assert!(d <= origin + ms(tick));
                    if tick > elapsed {
                        assert!(d > origin + ms(elapsed));
                    }
                }
            }
        }
    }

    #[test]
    fn million_entries() {
        let origin = Instant::now();
        let mut rng = Rng(42);
        let mut wheel = Wheel::new(origin);
        const N: usize = 1_000_000;
        let mut last = (0, 0);
        for id in 0..N as u32 {
            let tick = rng.below(2 * 3_600_000);
            wheel.insert(origin + ms(tick), (tick, id));
        }
        assert_eq!(wheel.len(), N);
        let mut count = 0;
        wheel.poll(origin + ms(24 * 3_600_000), |v| {
            assert!(v > last || count == 0, "{last:?} then {v:?}");
            last = v;
            count += 1;
        });
        assert_eq!(count, N);
        assert!(wheel.is_empty());
        assert_eq!(wheel.next_deadline(), None);
    }

    #[test]
    fn entry_size() {
        /// Same shape as the slab's private per-slot enum.
        #[allow(dead_code)]
        enum SlabSlot<T> {
            Vacant(usize),
            Occupied(T),
        }
        assert_eq!(std::mem::size_of::<Entry<Waker>>(), 40);
        assert_eq!(std::mem::size_of::<SlabSlot<Entry<Waker>>>(), 40);
        assert_eq!(std::mem::size_of::<Entry<u64>>(), 32);
        assert_eq!(std::mem::size_of::<SlabSlot<Entry<u64>>>(), 40);
        assert_eq!(std::mem::size_of::<TimerKey>(), 8);
    }

    #[test]
    fn level_math() {
        assert_eq!(level_for(0, 1), 0);
        assert_eq!(level_for(0, 63), 0);
        assert_eq!(level_for(0, 64), 1);
        assert_eq!(level_for(63, 64), 1);
        assert_eq!(level_for(64, 127), 0);
        assert_eq!(level_for(0, MAX_DURATION - 1), LEVELS - 1);
        assert_eq!(level_for(0, MAX_DURATION * 5), LEVELS - 1);
        assert_eq!(level_for(MAX_DURATION - 1, MAX_DURATION), LEVELS - 1);
        assert_eq!(slot_for(64 * 3 + 5, 0), 5);
        assert_eq!(slot_for(64 * 3 + 5, 1), 3);
    }
}
