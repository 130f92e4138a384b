//! task_local!: isolation between interleaving tasks, no inheritance by
//! spawned tasks, errors outside a scope, drop inside the scope.

use std::cell::Cell;
use std::sync::{Arc, Mutex};

use ringbolt::task_local::{AccessError, LocalKey};

ringbolt::task_local! {
    static ID: u64;
    /// A String key, to see that non-Copy values work.
    pub static NAME: String;
}

#[test]
fn interleaving_tasks_each_see_their_own_value() {
    ringbolt::run(async {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let mut handles = Vec::new();
        for id in [1u64, 2, 3] {
            let seen = seen.clone();
            handles.push(ringbolt::spawn(ID.scope(id, async move {
                for round in 0..5 {
                    // Every yield lets the other tasks run (and set their
                    // own values) before this one resumes.
                    ringbolt::yield_now().await;
                    let now = ID.get();
                    seen.lock().unwrap().push((id, round, now));
                }
            })));
        }
        for h in handles {
            h.await.unwrap();
        }
        let seen = seen.lock().unwrap();
        assert_eq!(seen.len(), 15);
        assert!(seen.iter().all(|(id, _, now)| id == now), "{seen:?}");
        // They really interleaved: not all of task 1's rounds came first.
        assert_ne!(seen[1].0, 1, "{seen:?}");
    });
}

#[test]
fn two_scopes_in_one_task_under_join_stay_apart() {
    ringbolt::run(async {
        let a = ID.scope(10, async {
            ringbolt::yield_now().await;
            ID.get()
        });
        let b = ID.scope(20, async {
            ringbolt::yield_now().await;
            ID.get()
        });
        assert_eq!(ringbolt::join!(a, b), (10, 20));
    });
}

#[test]
fn spawned_tasks_do_not_inherit_the_value() {
    ringbolt::run(ID.scope(5, async {
        assert_eq!(ID.get(), 5);
        let child = ringbolt::spawn(async { ID.try_with(|v| *v) });
        let outside: Result<u64, AccessError> = child.await.unwrap();
        assert!(outside.is_err(), "a spawned task saw its parent's value");
        // Passing it on explicitly works.
        let id = ID.get();
        let child = ringbolt::spawn(ID.scope(id, async { ID.get() }));
        assert_eq!(child.await.unwrap(), 5);
    }));
}

#[test]
fn try_with_outside_a_scope_is_an_error() {
    assert!(ID.try_with(|_| ()).is_err());
    let err = NAME.try_with(|n| n.len()).unwrap_err();
    assert!(err.to_string().contains("not set"));
    ringbolt::run(async {
        assert!(ID.try_with(|_| ()).is_err());
        ID.scope(1, async {}).await;
        assert!(
            ID.try_with(|_| ()).is_err(),
            "the scope ended with its future"
        );
    });
}

#[test]
#[should_panic(expected = "outside its scope")]
fn with_outside_a_scope_panics() {
    ID.with(|_| ());
}

#[test]
fn nested_scopes_shadow_and_restore() {
    ringbolt::run(NAME.scope("outer".into(), async {
        let inner = NAME
            .scope("inner".into(), async {
                ringbolt::yield_now().await;
                NAME.get()
            })
            .await;
        assert_eq!(inner, "inner");
        assert_eq!(NAME.get(), "outer");
        assert_eq!(NAME.sync_scope("sync".into(), || NAME.get()), "sync");
        NAME.with(|n| assert_eq!(n, "outer"));
    }));
}

#[test]
fn sync_scope_restores_after_a_panic() {
    let r = std::panic::catch_unwind(|| ID.sync_scope(3, || panic!("inside")));
    assert!(r.is_err());
    assert!(ID.try_with(|_| ()).is_err());
    ID.sync_scope(4, || {
        let r = std::panic::catch_unwind(|| ID.sync_scope(5, || panic!("nested")));
        assert!(r.is_err());
        assert_eq!(ID.get(), 4);
    });
}

#[test]
fn a_future_dropped_early_is_dropped_inside_its_scope() {
    struct ReadsOnDrop<'a>(&'a Cell<Option<u64>>);
    impl Drop for ReadsOnDrop<'_> {
        fn drop(&mut self) {
            self.0.set(ID.try_with(|v| *v).ok());
        }
    }
    let seen = Cell::new(None);
    ringbolt::run(async {
        let seen = &seen;
        let fut = ID.scope(9, async move {
            let _guard = ReadsOnDrop(seen);
            std::future::pending::<()>().await;
        });
        // Poll once (so the guard exists), then drop on timeout.
        let r = ringbolt::time::timeout(std::time::Duration::from_millis(1), fut).await;
        assert!(r.is_err());
    });
    assert_eq!(seen.get(), Some(9));
}

#[test]
fn take_value_gives_the_value_back_before_the_first_poll() {
    let fut = std::pin::pin!(ID.scope(11, async {}));
    assert_eq!(fut.take_value(), Some(11));
}

#[test]
fn keys_are_static_local_keys() {
    fn takes(_: &'static LocalKey<u64>) {}
    takes(&ID);
    assert_eq!(format!("{ID:?}"), "LocalKey { .. }");
}
