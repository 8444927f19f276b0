//! Chat templates: the model's own Jinja template (`tokenizer.chat_template`) rendered with
//! minijinja, or a per-family fallback when the model ships none.
//!
//! The environment mirrors the one Hugging Face transformers uses (`trim_blocks`,
//! `lstrip_blocks`, `raise_exception`, `strftime_now`, Python string methods such as
//! `.strip()` / `.startswith()` through minijinja-contrib's `pycompat`).

mod fallback;
mod strftime;

use std::cell::RefCell;

use minijinja::{Environment, ErrorKind, context};
use serde::Serialize;

pub use fallback::{TemplateFamily, detect_family, detect_family_for, family_for_architecture};

use crate::error::TemplateError;

const TEMPLATE_NAME: &str = "chat";

/// Speaker of a chat message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Instructions that frame the conversation.
    System,
    /// The human.
    User,
    /// The model.
    Assistant,
}

impl Role {
    /// The lowercase name templates expect (`"system"`, `"user"`, `"assistant"`).
    pub fn as_str(self) -> &'static str {
        match self {
            Role::System => "system",
            Role::User => "user",
            Role::Assistant => "assistant",
        }
    }
}

/// One message of a conversation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChatMessage {
    /// Who speaks.
    pub role: Role,
    /// What is said.
    pub content: String,
}

impl ChatMessage {
    /// A message with the given role and content.
    pub fn new(role: Role, content: impl Into<String>) -> Self {
        Self {
            role,
            content: content.into(),
        }
    }
    /// A system message.
    pub fn system(content: impl Into<String>) -> Self {
        Self::new(Role::System, content)
    }
    /// A user message.
    pub fn user(content: impl Into<String>) -> Self {
        Self::new(Role::User, content)
    }
    /// An assistant message.
    pub fn assistant(content: impl Into<String>) -> Self {
        Self::new(Role::Assistant, content)
    }
}

thread_local! {
    /// Message of the last `raise_exception` call on this thread (rendering is synchronous).
    static RAISED: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// A compiled chat template plus the special-token strings it may reference.
pub struct ChatTemplate {
    env: Environment<'static>,
    source: String,
    from_model: bool,
    bos_token: String,
    eos_token: String,
}

impl std::fmt::Debug for ChatTemplate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChatTemplate")
            .field("from_model", &self.from_model)
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

impl ChatTemplate {
    /// Compiles `source` (Jinja). `from_model` records whether it came from the model file.
    pub fn new(
        source: &str,
        from_model: bool,
        bos_token: impl Into<String>,
        eos_token: impl Into<String>,
    ) -> Result<Self, minijinja::Error> {
        let mut env = Environment::new();
        env.set_trim_blocks(true);
        env.set_lstrip_blocks(true);
        env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
        env.add_function("raise_exception", |message: String| -> Result<String, _> {
            RAISED.with(|r| *r.borrow_mut() = Some(message.clone()));
            Err(minijinja::Error::new(ErrorKind::InvalidOperation, message))
        });
        env.add_function("strftime_now", |format: String| {
            strftime::format_utc_now(&format)
        });
        env.add_template_owned(TEMPLATE_NAME, source.to_string())?;
        Ok(Self {
            env,
            source: source.to_string(),
            from_model,
            bos_token: bos_token.into(),
            eos_token: eos_token.into(),
        })
    }

    /// The fallback template for `family`.
    pub fn fallback(
        family: TemplateFamily,
        bos_token: impl Into<String>,
        eos_token: impl Into<String>,
    ) -> Result<Self, minijinja::Error> {
        Self::new(family.template(), false, bos_token, eos_token)
    }

    /// The Jinja source.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Whether the template came from the model file (false: a built-in fallback).
    pub fn is_from_model(&self) -> bool {
        self.from_model
    }

    /// Renders `messages`; with `add_generation_prompt` the text ends with the opening of an
    /// assistant turn, ready for generation.
    pub fn render(
        &self,
        messages: &[ChatMessage],
        add_generation_prompt: bool,
    ) -> Result<String, TemplateError> {
        let template = self
            .env
            .get_template(TEMPLATE_NAME)
            .map_err(|e| TemplateError::Render {
                reason: format!("{e:#}"),
            })?;
        RAISED.with(|r| r.borrow_mut().take());
        let result = template.render(context! {
            messages => messages,
            add_generation_prompt => add_generation_prompt,
            bos_token => &self.bos_token,
            eos_token => &self.eos_token,
        });
        let raised = RAISED.with(|r| r.borrow_mut().take());
        match (result, raised) {
            (Ok(text), _) => Ok(text),
            (Err(_), Some(message)) => Err(TemplateError::Rejected { message }),
            (Err(e), None) => Err(TemplateError::Render {
                reason: format!("{e:#}"),
            }),
        }
    }
}

#[cfg(test)]
mod tests;
