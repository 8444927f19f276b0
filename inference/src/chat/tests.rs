use super::*;

/// `tokenizer.chat_template` of SmolLM2-135M-Instruct, copied from the GGUF file.
const SMOLLM2: &str = "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}";

fn template(source: &str) -> ChatTemplate {
    ChatTemplate::new(source, true, "<s>", "</s>").expect("template compiles")
}

#[test]
fn smollm2_template_adds_default_system_prompt() {
    let t = template(SMOLLM2);
    let text = t
        .render(&[ChatMessage::user("What is the capital of France?")], true)
        .expect("renders");
    assert_eq!(
        text,
        "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging \
         Face<|im_end|>\n<|im_start|>user\nWhat is the capital of France?<|im_end|>\n\
         <|im_start|>assistant\n"
    );
}

#[test]
fn smollm2_template_keeps_explicit_system_and_history() {
    let t = template(SMOLLM2);
    let messages = [
        ChatMessage::system("Be brief."),
        ChatMessage::user("Hi"),
        ChatMessage::assistant("Hello!"),
        ChatMessage::user("Bye"),
    ];
    let text = t.render(&messages, false).expect("renders");
    assert_eq!(
        text,
        "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n\
         <|im_start|>assistant\nHello!<|im_end|>\n<|im_start|>user\nBye<|im_end|>\n"
    );
}

#[test]
fn raise_exception_becomes_rejected_error() {
    let t = template(
        "{% for m in messages %}{% if m['role'] == 'system' %}{{ raise_exception('System role not supported') }}{% endif %}{{ m['content'] }}{% endfor %}",
    );
    let err = t
        .render(&[ChatMessage::system("x")], true)
        .expect_err("must be rejected");
    match err {
        TemplateError::Rejected { message } => assert_eq!(message, "System role not supported"),
        other => panic!("wrong error: {other:?}"),
    }
    // The flag must not leak into the next render.
    assert_eq!(
        t.render(&[ChatMessage::user("ok")], true).expect("renders"),
        "ok"
    );
}

#[test]
fn python_string_methods_and_bos_token_work() {
    let t = template(
        "{{ bos_token }}{% for m in messages %}{{ m['content'].strip().upper() }}{% if m['content'].startswith(' a') %}!{% endif %}|{% endfor %}",
    );
    let text = t
        .render(&[ChatMessage::user(" abc  ")], false)
        .expect("renders");
    assert_eq!(text, "<s>ABC!|");
}

#[test]
fn strftime_now_renders_a_date() {
    let t = template("{{ strftime_now('%Y-%m-%d') }}");
    let text = t.render(&[], false).expect("renders");
    assert_eq!(text.len(), 10, "{text}");
    assert!(text.starts_with("20"), "{text}");
}

#[test]
fn trim_and_lstrip_blocks_like_transformers() {
    let t = template(
        "{% for m in messages %}\n    {% if true %}\n{{ m['content'] }}\n    {% endif %}\n{% endfor %}",
    );
    let text = t.render(&[ChatMessage::user("x")], false).expect("renders");
    assert_eq!(text, "x\n");
}

#[test]
fn runtime_failure_is_a_render_error_not_a_panic() {
    let t = template("{{ messages[0]['content'] }}");
    assert!(matches!(
        t.render(&[], false),
        Err(TemplateError::Render { .. })
    ));
}

#[test]
fn bad_template_fails_to_compile() {
    assert!(ChatTemplate::new("{% for %}", true, "", "").is_err());
}

#[test]
fn fallback_templates_render_their_formats() {
    let msgs = [ChatMessage::system("S"), ChatMessage::user("U")];
    let render = |f: TemplateFamily| {
        ChatTemplate::fallback(f, "<bos>", "<eos>")
            .expect("compiles")
            .render(&msgs, true)
            .expect("renders")
    };
    assert_eq!(
        render(TemplateFamily::ChatMl),
        "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nU<|im_end|>\n<|im_start|>assistant\n"
    );
    assert_eq!(
        render(TemplateFamily::Llama3),
        "<bos><|start_header_id|>system<|end_header_id|>\n\nS<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nU<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n"
    );
    assert_eq!(
        render(TemplateFamily::Phi3),
        "<|system|>\nS<|end|>\n<|user|>\nU<|end|>\n<|assistant|>\n"
    );
    assert_eq!(
        render(TemplateFamily::Gemma),
        "<bos><start_of_turn>user\nS<end_of_turn>\n<start_of_turn>user\nU<end_of_turn>\n<start_of_turn>model\n"
    );
    let t = ChatTemplate::fallback(TemplateFamily::ChatMl, "", "").expect("compiles");
    assert!(!t.is_from_model());
}

#[test]
fn vocabulary_markers_win_over_the_architecture_hint() {
    let mut plain = tokenizers::Tokenizer::new(tokenizers::models::bpe::BPE::default());
    assert_eq!(detect_family_for(&plain, "phi3"), TemplateFamily::Phi3);
    assert_eq!(detect_family_for(&plain, "gemma3"), TemplateFamily::Gemma);
    assert_eq!(detect_family_for(&plain, "qwen3"), TemplateFamily::ChatMl);
    assert_eq!(detect_family_for(&plain, "llama"), TemplateFamily::ChatMl);
    assert_eq!(family_for_architecture("llama"), None);
    plain
        .add_special_tokens([
            tokenizers::AddedToken::from("<start_of_turn>", true),
            tokenizers::AddedToken::from("<end_of_turn>", true),
        ])
        .expect("adds");
    assert_eq!(detect_family_for(&plain, "phi3"), TemplateFamily::Gemma);
    assert_eq!(detect_family(&plain), TemplateFamily::Gemma);
}
