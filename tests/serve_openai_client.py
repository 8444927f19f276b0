"""Drives `palisade serve` with the official openai client (tests/serve_openai_python.rs)."""
import sys

import openai

KEY = "test-key-0123456789abcdef"
clean, blocking = sys.argv[1], sys.argv[2]
client = openai.OpenAI(base_url=clean, api_key=KEY, max_retries=0)
user = [{"role": "user", "content": "Hi"}]

r = client.chat.completions.create(model="fake-model", messages=user)
assert r.choices[0].message.content == "Hello, world!", r
assert r.choices[0].finish_reason == "stop", r
assert r.usage.prompt_tokens == 7, r

text, finish = "", None
for chunk in client.chat.completions.create(model="fake-model", messages=user, stream=True):
    if chunk.choices:
        text += chunk.choices[0].delta.content or ""
        finish = chunk.choices[0].finish_reason or finish
assert (text, finish) == ("Hello, world!", "stop"), (text, finish)

r = client.chat.completions.create(
    model="fake-model", messages=[{"role": "user", "content": "the forbidden topic"}]
)
assert r.choices[0].finish_reason == "content_filter", r
assert r.choices[0].message.content == "I can't talk about that.", r

r = client.completions.create(model="fake-model", prompt="Hi", max_tokens=3)
assert r.choices[0].text == "Hello, world!", r
assert client.models.list().data[0].id == "fake-model"

blocked = openai.OpenAI(base_url=blocking, api_key=KEY, max_retries=0)
text, finish = "", None
for chunk in blocked.chat.completions.create(model="fake-model", messages=user, stream=True):
    if chunk.choices:
        text += chunk.choices[0].delta.content or ""
        finish = chunk.choices[0].finish_reason or finish
assert finish == "content_filter" and "bluebird" not in text, (text, finish)

try:
    openai.OpenAI(base_url=clean, api_key="wrong-key-000000000000", max_retries=0).models.list()
    raise SystemExit("a wrong key was accepted")
except openai.AuthenticationError:
    pass
print("openai-client-ok", openai.__version__)
