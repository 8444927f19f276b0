//! Pre-bound instrument handles, cached per series, so that recording a
//! sample is a few atomic updates instead of hashing attribute lists.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use opentelemetry::KeyValue;
use opentelemetry::metrics::{
    BoundCounter, BoundHistogram, BoundUpDownCounter, Counter, Histogram, UpDownCounter,
};

use crate::registry::MetricId;

/// The most bound series kept per handle type; further series are recorded
/// unbound (same result, slower).
pub(crate) const MAX_BOUND: usize = 8192;

/// Identifies one series: the metric, a slot within it (e.g. token type or
/// error flag) and up to four registered-identifier indexes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Key {
    pub(crate) metric: MetricId,
    pub(crate) slot: u8,
    pub(crate) ids: [u16; 4],
}

/// A small, fast hasher for [`Key`] (FxHash's mixing step).
#[derive(Default)]
pub(crate) struct Fx(u64);

impl Fx {
    #[inline]
    fn add(&mut self, v: u64) {
        self.0 = (self.0.rotate_left(5) ^ v).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

impl Hasher for Fx {
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.add(u64::from(*b));
        }
    }
    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }
    fn write_u16(&mut self, i: u16) {
        self.add(u64::from(i));
    }
    fn write_u32(&mut self, i: u32) {
        self.add(u64::from(i));
    }
    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

/// An instrument that can be bound to an attribute set.
pub(crate) trait Bind<T> {
    /// The bound handle.
    type Handle;
    /// Binds `attrs`.
    fn bind_to(&self, attrs: &[KeyValue]) -> Self::Handle;
    /// Records through a bound handle.
    fn apply(handle: &Self::Handle, value: T);
    /// Records without binding.
    fn unbound(&self, value: T, attrs: &[KeyValue]);
}

macro_rules! bind_impl {
    ($inst:ident, $bound:ident, $t:ty, $method:ident) => {
        impl Bind<$t> for $inst<$t> {
            type Handle = $bound<$t>;
            fn bind_to(&self, attrs: &[KeyValue]) -> Self::Handle {
                self.bind(attrs)
            }
            #[inline]
            fn apply(handle: &Self::Handle, value: $t) {
                handle.$method(value);
            }
            fn unbound(&self, value: $t, attrs: &[KeyValue]) {
                self.$method(value, attrs);
            }
        }
    };
}

bind_impl!(Histogram, BoundHistogram, f64, record);
bind_impl!(Histogram, BoundHistogram, u64, record);
bind_impl!(Counter, BoundCounter, u64, add);
bind_impl!(UpDownCounter, BoundUpDownCounter, i64, add);

/// Bound handles of one type, by series.
pub(crate) struct Cache<H> {
    map: HashMap<Key, H, BuildHasherDefault<Fx>>,
}

impl<H> Default for Cache<H> {
    fn default() -> Self {
        Self {
            map: HashMap::default(),
        }
    }
}

impl<H> Cache<H> {
    /// Records `value` on the series `key` of `inst`, binding it on first use
    /// with the attributes `attrs` builds.
    #[inline]
    pub(crate) fn measure<T, I, A>(
        &mut self,
        inst: &I,
        key: Key,
        value: T,
        attrs: impl FnOnce() -> A,
    ) where
        I: Bind<T, Handle = H>,
        A: AsRef<[KeyValue]>,
    {
        if let Some(h) = self.map.get(&key) {
            I::apply(h, value);
            return;
        }
        let attrs = attrs();
        if self.map.len() < MAX_BOUND {
            let h = inst.bind_to(attrs.as_ref());
            I::apply(&h, value);
            self.map.insert(key, h);
        } else {
            inst.unbound(value, attrs.as_ref());
        }
    }
}

/// The caches of every handle type.
#[derive(Default)]
pub(crate) struct Series {
    pub(crate) f64_histograms: Cache<BoundHistogram<f64>>,
    pub(crate) u64_histograms: Cache<BoundHistogram<u64>>,
    pub(crate) counters: Cache<BoundCounter<u64>>,
    pub(crate) up_down: Cache<BoundUpDownCounter<i64>>,
}
