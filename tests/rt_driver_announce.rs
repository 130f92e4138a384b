//! The runtime says once per process, through `tracing`, which driver it
//! uses. One test in its own binary: the announcement is process-wide.

use std::sync::{Arc, Mutex};

use ringbolt::{Builder, Driver};

/// A `tracing` subscriber that keeps the text of every info and warning.
struct Said(Arc<Mutex<Vec<String>>>);

struct Text(String);

impl tracing::field::Visit for Text {
    fn record_debug(&mut self, _field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        self.0 += &format!("{value:?} ");
    }
}

impl tracing::Subscriber for Said {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        let level = *event.metadata().level();
        if level == tracing::Level::INFO || level == tracing::Level::WARN {
            let mut text = Text(String::new());
            event.record(&mut text);
            self.0.lock().unwrap().push(text.0);
        }
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

#[test]
fn the_driver_is_announced_once() {
    let said = Arc::new(Mutex::new(Vec::new()));
    let kinds = tracing::subscriber::with_default(Said(said.clone()), || {
        let a = Builder::new().driver(Driver::Auto).build().unwrap();
        let b = Builder::new().driver(Driver::Auto).build().unwrap();
        (a.driver_kind(), b.driver_kind())
    });
    assert_eq!(kinds.0, kinds.1);
    let said = said.lock().unwrap();
    let about: Vec<&String> = said.iter().filter(|t| t.contains("driver")).collect();
    assert_eq!(about.len(), 1, "{said:?}");
    let name = match kinds.0 {
        Driver::IoUring => "io_uring driver",
        _ => "thread-pool driver",
    };
    assert!(about[0].contains(name), "{}", about[0]);
}
