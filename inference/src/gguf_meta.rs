//! Typed access to GGUF metadata, with errors that name the file and key.

use std::collections::HashMap;
use std::path::Path;

use candle_core::quantized::gguf_file::Value;

use crate::error::LoadError;

/// Read-only view of a GGUF file's metadata table.
#[derive(Clone, Copy)]
pub struct GgufMeta<'a> {
    path: &'a Path,
    metadata: &'a HashMap<String, Value>,
}

impl<'a> GgufMeta<'a> {
    /// Wraps the metadata of the file at `path`.
    pub fn new(path: &'a Path, metadata: &'a HashMap<String, Value>) -> Self {
        Self { path, metadata }
    }

    /// Path of the file the metadata came from.
    pub fn path(&self) -> &'a Path {
        self.path
    }

    /// The raw value of `key`, if present.
    pub fn get(&self, key: &str) -> Option<&'a Value> {
        self.metadata.get(key)
    }

    fn error(&self, key: &str, problem: impl Into<String>) -> LoadError {
        LoadError::Metadata {
            path: self.path.to_path_buf(),
            key: key.to_string(),
            problem: problem.into(),
        }
    }

    fn required(&self, key: &str) -> Result<&'a Value, LoadError> {
        self.get(key).ok_or_else(|| self.error(key, "missing"))
    }

    /// A string value; `None` when absent, an error when of another type.
    pub fn opt_str(&self, key: &str) -> Result<Option<&'a str>, LoadError> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => v
                .to_string()
                .map(|s| Some(s.as_str()))
                .map_err(|_| self.error(key, "not a string")),
        }
    }

    /// A required string value.
    pub fn str(&self, key: &str) -> Result<&'a str, LoadError> {
        self.opt_str(key)?.ok_or_else(|| self.error(key, "missing"))
    }

    /// An unsigned integer of any width; `None` when absent.
    pub fn opt_u64(&self, key: &str) -> Result<Option<u64>, LoadError> {
        let Some(v) = self.get(key) else {
            return Ok(None);
        };
        let n = match v {
            Value::U8(x) => u64::from(*x),
            Value::U16(x) => u64::from(*x),
            Value::U32(x) => u64::from(*x),
            Value::U64(x) => *x,
            Value::I8(x) => u64::try_from(*x).map_err(|_| self.error(key, "negative"))?,
            Value::I16(x) => u64::try_from(*x).map_err(|_| self.error(key, "negative"))?,
            Value::I32(x) => u64::try_from(*x).map_err(|_| self.error(key, "negative"))?,
            Value::I64(x) => u64::try_from(*x).map_err(|_| self.error(key, "negative"))?,
            _ => return Err(self.error(key, "not an integer")),
        };
        Ok(Some(n))
    }

    /// An unsigned integer that must fit in `u32`; `None` when absent.
    pub fn opt_u32(&self, key: &str) -> Result<Option<u32>, LoadError> {
        match self.opt_u64(key)? {
            None => Ok(None),
            Some(n) => u32::try_from(n)
                .map(Some)
                .map_err(|_| self.error(key, format!("out of range ({n})"))),
        }
    }

    /// A boolean; `None` when absent.
    pub fn opt_bool(&self, key: &str) -> Result<Option<bool>, LoadError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(self.error(key, "not a boolean")),
        }
    }

    /// A required array of strings.
    pub fn str_array(&self, key: &str) -> Result<Vec<&'a str>, LoadError> {
        let values = self
            .required(key)?
            .to_vec()
            .map_err(|_| self.error(key, "not an array"))?;
        values
            .iter()
            .map(|v| {
                v.to_string()
                    .map(String::as_str)
                    .map_err(|_| self.error(key, "an array with a non-string element"))
            })
            .collect()
    }

    /// An optional array whose elements `item` converts (`None` for a wrong element type,
    /// reported as "an array with a non-`kind` element").
    fn opt_array<T>(
        &self,
        key: &str,
        kind: &str,
        item: impl Fn(&Value) -> Option<T>,
    ) -> Result<Option<Vec<T>>, LoadError> {
        let Some(v) = self.get(key) else {
            return Ok(None);
        };
        let values = v.to_vec().map_err(|_| self.error(key, "not an array"))?;
        values
            .iter()
            .map(|v| {
                item(v)
                    .ok_or_else(|| self.error(key, format!("an array with a non-{kind} element")))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some)
    }

    /// An optional array of integers (any integer element type), as `i64`.
    pub fn opt_int_array(&self, key: &str) -> Result<Option<Vec<i64>>, LoadError> {
        self.opt_array(key, "integer", |v| match v {
            Value::I8(x) => Some(i64::from(*x)),
            Value::U8(x) => Some(i64::from(*x)),
            Value::I16(x) => Some(i64::from(*x)),
            Value::U16(x) => Some(i64::from(*x)),
            Value::I32(x) => Some(i64::from(*x)),
            Value::U32(x) => Some(i64::from(*x)),
            Value::I64(x) => Some(*x),
            _ => None,
        })
    }

    /// An optional array of floats (`f32` or `f64` elements), as `f32`.
    pub fn opt_f32_array(&self, key: &str) -> Result<Option<Vec<f32>>, LoadError> {
        self.opt_array(key, "float", |v| match v {
            Value::F32(x) => Some(*x),
            Value::F64(x) => Some(*x as f32),
            _ => None,
        })
    }
}

/// Opens the GGUF file at `path` and reads its header and metadata (not the tensors).
pub fn open_gguf(
    path: &Path,
) -> Result<(std::fs::File, candle_core::quantized::gguf_file::Content), LoadError> {
    let mut file = std::fs::File::open(path).map_err(|source| {
        if source.kind() == std::io::ErrorKind::NotFound {
            LoadError::ModelNotFound {
                path: path.to_path_buf(),
            }
        } else {
            LoadError::Io {
                path: path.to_path_buf(),
                source,
            }
        }
    })?;
    let content = candle_core::quantized::gguf_file::Content::read(&mut file).map_err(|e| {
        LoadError::InvalidGguf {
            path: path.to_path_buf(),
            reason: e.to_string(),
        }
    })?;
    Ok((file, content))
}
