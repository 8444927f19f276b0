//! Running a chat on its own thread and reading its events as an iterator.

use std::ops::ControlFlow;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::JoinHandle;

use super::{ChatError, ChatEvent, ChatRequest, Palisade};

/// Events that can wait between the worker and a slow reader before the
/// worker pauses generation.
const EVENT_QUEUE: usize = 64;

/// The events of a chat running on a worker thread, in order. The last item
/// is [`ChatEvent::Done`], or an error. Dropping this stops the generation
/// within one token.
pub struct ChatEvents {
    receiver: Receiver<Result<ChatEvent, ChatError>>,
    worker: Option<JoinHandle<()>>,
}

impl ChatEvents {
    pub(super) fn spawn(palisade: Palisade, request: ChatRequest) -> Self {
        let (sender, receiver) = sync_channel(EVENT_QUEUE);
        let worker = std::thread::Builder::new()
            .name("palisade-chat".into())
            .spawn(move || work(&palisade, request, &sender));
        match worker {
            Ok(worker) => Self {
                receiver,
                worker: Some(worker),
            },
            Err(err) => {
                let (sender, receiver) = sync_channel(1);
                let _ = sender.send(Err(ChatError::Worker(err.to_string())));
                Self {
                    receiver,
                    worker: None,
                }
            }
        }
    }
}

fn work(
    palisade: &Palisade,
    request: ChatRequest,
    sender: &SyncSender<Result<ChatEvent, ChatError>>,
) {
    let mut forward = |event| match sender.send(Ok(event)) {
        Ok(()) => ControlFlow::Continue(()),
        Err(_) => ControlFlow::Break(()),
    };
    if let Err(err) = palisade.chat_with(request, &mut forward) {
        let _ = sender.send(Err(err));
    }
}

impl Iterator for ChatEvents {
    type Item = Result<ChatEvent, ChatError>;

    fn next(&mut self) -> Option<Self::Item> {
        match self.receiver.recv() {
            Ok(item) => Some(item),
            Err(_) => {
                let worker = self.worker.take()?;
                match worker.join() {
                    Ok(()) => None,
                    Err(panic) => Some(Err(ChatError::Worker(panic_message(&panic)))),
                }
            }
        }
    }
}

fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "the worker panicked".to_string()
    }
}
