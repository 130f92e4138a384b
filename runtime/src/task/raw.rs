//! The task allocation: header, join slot and future in one block, and the
//! references to it.
//!
//! A worker task belongs to its home worker, and only that worker, on its
//! own thread, polls it, drops its future and moves its scheduling state.
//! That state is therefore a plain `Cell`: a wake on the home worker's
//! thread sets a bit and pushes the task on the local run queue with no
//! atomic operation. A wake from any other thread is forwarded to the home
//! worker's remote queue and applied there.
//!
//! Lifetime. The reference count is atomic (wakers, [`TaskHandle`]s and
//! the join handle live on any thread); the block is freed when it reaches
//! zero. The worker's task list holds one counted reference from spawn
//! until the task is done, so a task that is queued, running or idle is
//! always alive, and the run queue holds uncounted [`TaskRef`]s: a task is
//! in the queue only while it is scheduled, never once it is done.
//!
//! The join slot (output, join waker, whether the handle still exists) is
//! the only state shared with other threads; it sits behind a mutex and is
//! touched once or twice per task.

use std::cell::{Cell, UnsafeCell};
use std::future::Future;
use std::mem::{ManuallyDrop, MaybeUninit};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::ptr::NonNull;
use std::sync::atomic::{fence, AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::task::{Context, Poll, RawWaker, RawWakerVTable, Waker};

use super::join::JoinError;
use super::meta::TaskMeta;
use crate::executor::context;
use crate::executor::shared::Remote;

/// In the run queue (set by a wake, cleared when the worker starts a poll).
const SCHEDULED: u8 = 1;
/// Being polled.
const RUNNING: u8 = 2;
/// Woken while being polled: queued again once the poll returns `Pending`.
const NOTIFIED: u8 = 4;
/// Finished, panicked or cancelled: the future is gone; wakes do nothing.
const DONE: u8 = 8;

/// Reference counts above this abort the process (as `Arc` does): a
/// leak of wakers on that scale is a bug, and wrapping would free a live
/// task.
const MAX_REFS: usize = isize::MAX as usize;

/// The type-erased operations on a task block.
struct Vtable {
    /// Polls the future once; `true` when it finished (or panicked).
    poll: unsafe fn(NonNull<Header>) -> bool,
    /// Drops the future, if still there, and completes as cancelled.
    cancel: unsafe fn(NonNull<Header>),
    /// Frees the block.
    dealloc: unsafe fn(NonNull<Header>),
}

/// The start of every task block.
pub(crate) struct Header {
    refs: AtomicUsize,
    /// Scheduling bits; read and written only on the home worker's thread.
    state: Cell<u8>,
    /// The key of the task in its worker's task list.
    key: Cell<usize>,
    /// The home worker's id; 0 for a task without one (worker ids start
    /// at 1, so no worker takes it for its own).
    home_id: u64,
    vtable: &'static Vtable,
    pub(crate) meta: TaskMeta,
}

/// What the task leaves for its join handle.
pub(crate) struct JoinState<O> {
    /// The result, until the handle takes it.
    pub(crate) output: Option<O>,
    /// The waker of the task awaiting the handle.
    pub(crate) waker: Option<Waker>,
    /// The handle still exists (else the output is dropped at once).
    pub(crate) handle: bool,
    /// The task finished (its output was stored, possibly taken since).
    pub(crate) done: bool,
}

/// The part of a task block whose layout does not depend on the future:
/// the join handle reaches its output through it.
#[repr(C)]
struct Prefix<O> {
    header: Header,
    join: Mutex<JoinState<O>>,
}

/// A whole task block.
#[repr(C)]
struct TaskCell<F: Future> {
    prefix: Prefix<Result<F::Output, JoinError>>,
    /// The future is still there (owner-only, like `state`).
    live: Cell<bool>,
    future: UnsafeCell<MaybeUninit<F>>,
}

impl<F: Future> TaskCell<F> {
    const VTABLE: Vtable = Vtable {
        poll: poll_future::<F>,
        cancel: cancel_future::<F>,
        dealloc: dealloc::<F>,
    };
}

/// Allocates a task for `future`, marked scheduled (the caller queues it),
/// with two references: the returned handles, one for the worker's task
/// list, one for the join handle.
///
/// The task's future is polled and dropped only by its home worker, so it
/// need not be `Send`; a task whose future is not `Send` must never be
/// handed to another thread before it is registered ([`NewTask`] is only
/// made for `Send` futures).
pub(crate) fn allocate<F>(future: F, meta: TaskMeta) -> (TaskHandle, TaskHandle)
where
    F: Future + 'static,
{
    let home_id = meta.home.as_ref().map_or(0, |h| h.id);
    let cell = Box::new(TaskCell::<F> {
        prefix: Prefix {
            header: Header {
                refs: AtomicUsize::new(2),
                state: Cell::new(SCHEDULED),
                key: Cell::new(usize::MAX),
                home_id,
                vtable: &TaskCell::<F>::VTABLE,
                meta,
            },
            join: Mutex::new(JoinState {
                output: None,
                waker: None,
                handle: true,
                done: false,
            }),
        },
        live: Cell::new(true),
        future: UnsafeCell::new(MaybeUninit::new(future)),
    });
    let ptr = NonNull::from(Box::leak(cell)).cast::<Header>();
    (TaskHandle(ptr), TaskHandle(ptr))
}

/// A counted reference to a task block.
pub(crate) struct TaskHandle(NonNull<Header>);

// SAFETY: through a handle other threads touch only the atomic count, the
// `Sync` metadata and the mutex-guarded join slot; the future and the
// scheduling bits are used only on the home worker's thread (`TaskRef`).
// A block freed from another thread holds no future that is not `Send`:
// the home worker drops every future it registered before it stops, and
// only `Send` futures travel unregistered (`NewTask`).
unsafe impl Send for TaskHandle {}
// SAFETY: as above; `&TaskHandle` gives the same access.
unsafe impl Sync for TaskHandle {}

impl TaskHandle {
    pub(crate) fn header(&self) -> &Header {
        // SAFETY: a counted reference keeps the block allocated.
        unsafe { self.0.as_ref() }
    }

    /// An uncounted reference for the home worker's run queue.
    pub(crate) fn task_ref(&self) -> TaskRef {
        TaskRef(self.0)
    }

    /// Wakes the task, keeping this reference.
    pub(crate) fn wake_by_ref(&self) {
        // SAFETY: `wake_by_ref` only borrows the reference this handle owns.
        unsafe { wake_by_ref(self.0.as_ptr() as *const ()) }
    }

    /// The join slot, for a task whose future's output is `T`.
    ///
    /// # Safety
    ///
    /// `T` must be that output type.
    pub(crate) unsafe fn join<T>(&self) -> MutexGuard<'_, JoinState<Result<T, JoinError>>> {
        // SAFETY: `Prefix` is `repr(C)` and starts every `TaskCell<F>` with
        // `O = Result<F::Output, JoinError>`, so with the caller's `T` this
        // cast names the block's real join slot.
        let prefix = unsafe { self.0.cast::<Prefix<Result<T, JoinError>>>().as_ref() };
        prefix.join.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Clone for TaskHandle {
    fn clone(&self) -> Self {
        add_ref(self.header());
        TaskHandle(self.0)
    }
}

impl Drop for TaskHandle {
    fn drop(&mut self) {
        // SAFETY: this handle owns one reference.
        unsafe { drop_ref(self.0) }
    }
}

/// A task spawned for another worker, on its way there: whoever holds it
/// owns the task's future until the home worker registers it; dropped
/// undelivered (the worker stopped), it cancels the task.
pub(crate) struct NewTask {
    task: Option<TaskHandle>,
}

impl NewTask {
    /// Allocates a task for a `Send` future; gives the task and the join
    /// handle's reference.
    pub(crate) fn new<F>(future: F, meta: TaskMeta) -> (NewTask, TaskHandle)
    where
        F: Future + Send + 'static,
    {
        let (task, join) = allocate(future, meta);
        (NewTask { task: Some(task) }, join)
    }

    /// The task, for its home worker to register.
    pub(crate) fn arrive(mut self) -> TaskHandle {
        self.task.take().expect("NewTask taken once")
    }
}

impl Drop for NewTask {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            // SAFETY: no worker registered the task and this holder is the
            // only one that may touch its future (a `Send` one, see `new`).
            unsafe { (task.header().vtable.cancel)(task.0) };
            if let Some(home) = &task.header().meta.home {
                home.metrics.counters.tasks_finished.inc_shared();
            }
        }
    }
}

/// An uncounted reference to a task, used on its home worker's thread
/// while the worker's task list keeps the task alive.
#[derive(Clone, Copy)]
pub(crate) struct TaskRef(NonNull<Header>);

impl TaskRef {
    pub(crate) fn header(&self) -> &Header {
        // SAFETY: see the type docs: the worker's counted reference keeps
        // the block allocated while `TaskRef`s to it are used.
        unsafe { self.0.as_ref() }
    }

    /// Whether the task is done (its future is gone).
    pub(crate) fn is_done(&self) -> bool {
        self.header().state.get() & DONE != 0
    }

    /// Whether the scheduled task was aborted.
    pub(crate) fn is_aborted(&self) -> bool {
        self.header().meta.is_aborted()
    }

    /// Polls the task once; `true` when it is done. A wake during the poll
    /// queues it again afterwards, through `requeue`.
    ///
    /// # Safety
    ///
    /// On the home worker's thread, with the task popped from its queue.
    pub(crate) unsafe fn poll(&self, requeue: impl FnOnce(TaskRef)) -> bool {
        let h = self.header();
        h.state.set(RUNNING);
        // SAFETY: the caller runs this on the home thread (the vtable's
        // requirement); the task is alive (registered) and not done.
        let done = unsafe { (h.vtable.poll)(self.0) };
        if done {
            return true;
        }
        if h.state.get() & NOTIFIED != 0 {
            h.state.set(SCHEDULED);
            requeue(*self);
        } else {
            h.state.set(0);
        }
        false
    }

    /// Drops the future (if still there) and completes the task as
    /// cancelled.
    ///
    /// # Safety
    ///
    /// On the home worker's thread.
    pub(crate) unsafe fn cancel(&self) {
        // SAFETY: the caller's guarantee is the vtable's requirement.
        unsafe { (self.header().vtable.cancel)(self.0) }
    }

    /// The task's key in its worker's task list.
    pub(crate) fn key(&self) -> usize {
        self.header().key.get()
    }

    /// Records the task's key in its worker's task list (home thread).
    pub(crate) fn set_key(&self, key: usize) {
        self.header().key.set(key);
    }
}

fn add_ref(h: &Header) {
    if h.refs.fetch_add(1, Ordering::Relaxed) > MAX_REFS {
        std::process::abort();
    }
}

/// Releases one reference; frees the block with the last.
///
/// # Safety
///
/// The caller owns a reference to the live block at `ptr`.
unsafe fn drop_ref(ptr: NonNull<Header>) {
    // SAFETY: the caller's reference keeps the block allocated.
    let h = unsafe { ptr.as_ref() };
    if h.refs.fetch_sub(1, Ordering::Release) != 1 {
        return;
    }
    // Pairs with the release decrements: every use through another
    // reference happens before the block is freed.
    fence(Ordering::Acquire);
    // SAFETY: that was the last reference: nothing else can reach the block.
    unsafe { (h.vtable.dealloc)(ptr) }
}

/// Marks the task scheduled and queues it, if it runs on this thread's
/// worker; `false` if not (the caller then forwards the wake).
fn schedule_here(ptr: NonNull<Header>) -> bool {
    // SAFETY: every caller holds a reference (a waker or a handle).
    let h = unsafe { ptr.as_ref() };
    context::with_current(|w| {
        if w.id != h.home_id {
            return false;
        }
        // On the home worker's thread: the scheduling bits are ours.
        let s = h.state.get();
        if s & (SCHEDULED | NOTIFIED | DONE) != 0 {
            return true;
        }
        if s & RUNNING != 0 {
            h.state.set(s | NOTIFIED);
        } else {
            h.state.set(SCHEDULED);
            w.run_queue.borrow_mut().push_back(TaskRef(ptr));
        }
        true
    })
    .unwrap_or(false)
}

/// Wakes `waker` by reference if it is the waker of a ringbolt task whose
/// home is this thread's worker: the task is queued here, with no atomic
/// operation and no user code run (so this may be called with the driver
/// borrowed). Returns `false`, having done nothing, for any other waker
/// (a foreign one, or a task of another worker): the caller wakes it
/// outside its borrows then.
pub(crate) fn wake_local_by_ref(waker: &Waker) -> bool {
    if !std::ptr::eq(waker.vtable(), &WAKER_VTABLE) {
        return false;
    }
    // Our vtable: the data pointer is a task block that the waker holds a
    // reference to, as `schedule_here` requires.
    match NonNull::new(waker.data() as *mut Header) {
        Some(ptr) => schedule_here(ptr),
        None => false,
    }
}

/// Sends a wake to the task's home worker; `waker` is the reference the
/// message carries (dropped on arrival, or here if the worker has stopped).
fn forward(h: &Header, waker: Waker) {
    match &h.meta.home {
        Some(home) => home.push(Remote::Wake(waker)),
        None => drop(waker),
    }
}

static WAKER_VTABLE: RawWakerVTable =
    RawWakerVTable::new(clone_waker, wake, wake_by_ref, drop_waker);

/// A waker that borrows the caller's reference (for the duration of a
/// poll: it must not be dropped).
fn borrowed_waker(ptr: NonNull<Header>) -> ManuallyDrop<Waker> {
    let raw = RawWaker::new(ptr.as_ptr() as *const (), &WAKER_VTABLE);
    // SAFETY: the vtable's functions follow the `RawWaker` contract for a
    // pointer to a live task block; `ManuallyDrop` keeps it from releasing
    // a reference it does not own.
    ManuallyDrop::new(unsafe { Waker::from_raw(raw) })
}

unsafe fn clone_waker(p: *const ()) -> RawWaker {
    // SAFETY: `p` is the block pointer of a live waker (RawWaker contract).
    add_ref(unsafe { &*(p as *const Header) });
    RawWaker::new(p, &WAKER_VTABLE)
}

unsafe fn wake(p: *const ()) {
    // SAFETY: `p` is the non-null block pointer of a live waker.
    let ptr = unsafe { NonNull::new_unchecked(p as *mut Header) };
    if schedule_here(ptr) {
        // SAFETY: a by-value wake consumes the waker's reference.
        unsafe { drop_ref(ptr) };
    } else {
        // SAFETY: the message takes over this waker's reference.
        let waker = unsafe { Waker::from_raw(RawWaker::new(p, &WAKER_VTABLE)) };
        // SAFETY: as above, the block is alive.
        forward(unsafe { ptr.as_ref() }, waker);
    }
}

unsafe fn wake_by_ref(p: *const ()) {
    // SAFETY: `p` is the non-null block pointer of a live waker.
    let ptr = unsafe { NonNull::new_unchecked(p as *mut Header) };
    if !schedule_here(ptr) {
        // SAFETY: the new waker owns the reference `clone_waker` adds.
        let waker = unsafe { Waker::from_raw(clone_waker(p)) };
        // SAFETY: as above, the block is alive.
        forward(unsafe { ptr.as_ref() }, waker);
    }
}

unsafe fn drop_waker(p: *const ()) {
    // SAFETY: the waker owns a reference to the block at `p` (non-null).
    unsafe { drop_ref(NonNull::new_unchecked(p as *mut Header)) }
}

/// Stores the output for the join handle (or drops it, if the handle is
/// gone: a panic from its destructor is contained and logged, as for the
/// future's) and wakes the task awaiting it.
fn complete<O>(join: &Mutex<JoinState<O>>, out: O, meta: &TaskMeta) {
    let (waker, unwanted) = {
        let mut j = join.lock().unwrap_or_else(|e| e.into_inner());
        j.done = true;
        if j.handle {
            j.output = Some(out);
            (j.waker.take(), None)
        } else {
            (None, Some(out))
        }
    };
    // Outside the lock: either may run arbitrary code.
    if let Some(out) = unwanted {
        drop_unclaimed(out, meta);
    }
    if let Some(w) = waker {
        w.wake();
    }
}

/// Drops a task output nobody will claim; a panic from its destructor is
/// contained and logged (as tokio does), whether the runtime drops it as the
/// task ends or the join handle drops it with itself.
pub(crate) fn drop_unclaimed<O>(out: O, meta: &TaskMeta) {
    contain_unclaimed(meta.id, meta.location, || drop(out));
}

/// Runs `drop_it`, which drops a task output nobody will claim, containing
/// and logging a panic from the output's destructor.
pub(crate) fn contain_unclaimed(
    id: u64,
    location: &'static std::panic::Location<'static>,
    drop_it: impl FnOnce(),
) {
    if catch_unwind(AssertUnwindSafe(drop_it)).is_err() {
        tracing::error!(
            task.id = id,
            task.spawned_at = %location,
            "ringbolt: the destructor of a task's unclaimed output panicked; the panic was contained"
        );
    }
}

/// Marks the task done and drops its future in place; a panic from the
/// future's destructor is contained (and logged).
///
/// # Safety
///
/// On the home thread (or by the only holder of an unregistered task),
/// with the future still there.
unsafe fn drop_future<F: Future>(cell: &TaskCell<F>) {
    cell.prefix.header.state.set(DONE);
    cell.live.set(false);
    // SAFETY: the future was initialised and, `live` now being false, is
    // never touched again: dropped in place, it stays where it was pinned.
    let dropped = catch_unwind(AssertUnwindSafe(|| unsafe {
        std::ptr::drop_in_place((*cell.future.get()).as_mut_ptr())
    }));
    if dropped.is_err() {
        let meta = &cell.prefix.header.meta;
        tracing::error!(
            task.id = meta.id,
            task.spawned_at = %meta.location,
            "ringbolt: a task's destructor panicked; the panic was contained"
        );
    }
}

unsafe fn poll_future<F: Future>(ptr: NonNull<Header>) -> bool {
    // SAFETY: the vtable of a `TaskCell<F>` block is only called with it.
    let cell = unsafe { ptr.cast::<TaskCell<F>>().as_ref() };
    if !cell.live.get() {
        return true;
    }
    let waker = borrowed_waker(ptr);
    let mut cx = Context::from_waker(&waker);
    // SAFETY: the future is initialised (`live`), never moved (it stays in
    // the block until dropped in place), and only the home thread gets here.
    let future = unsafe { Pin::new_unchecked((*cell.future.get()).assume_init_mut()) };
    let out = match catch_unwind(AssertUnwindSafe(|| {
        super::coop::with_budget(|| future.poll(&mut cx))
    })) {
        Ok(Poll::Pending) => return false,
        Ok(Poll::Ready(v)) => Ok(v),
        Err(payload) => Err(JoinError::panic(cell.prefix.header.meta.id, payload)),
    };
    // SAFETY: on the home thread, future still there (checked above).
    unsafe { drop_future(cell) };
    complete(&cell.prefix.join, out, &cell.prefix.header.meta);
    true
}

unsafe fn cancel_future<F: Future>(ptr: NonNull<Header>) {
    // SAFETY: the vtable of a `TaskCell<F>` block is only called with it.
    let cell = unsafe { ptr.cast::<TaskCell<F>>().as_ref() };
    if !cell.live.get() {
        cell.prefix.header.state.set(DONE);
        return;
    }
    // SAFETY: the caller is the home thread or the only holder.
    unsafe { drop_future(cell) };
    let id = cell.prefix.header.meta.id;
    complete(
        &cell.prefix.join,
        Err(JoinError::cancelled(id)),
        &cell.prefix.header.meta,
    );
}

unsafe fn dealloc<F: Future>(ptr: NonNull<Header>) {
    // SAFETY: the block was made by `Box::leak` of a `TaskCell<F>`, and the
    // last reference is gone: nothing else reaches it.
    let cell = unsafe { Box::from_raw(ptr.cast::<TaskCell<F>>().as_ptr()) };
    if cell.live.get() {
        // Only when shutdown gave up on tasks that kept spawning tasks from
        // their destructors: the future is leaked, never dropped on what may
        // be the wrong thread (and a panic here could abort the process).
        tracing::error!(
            task.id = cell.prefix.header.meta.id,
            "ringbolt: a task outlived its worker's shutdown; its future is leaked"
        );
    }
    drop(cell);
}
