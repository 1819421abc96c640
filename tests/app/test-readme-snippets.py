#!/usr/bin/env python3
"""The README's local-API snippets, run against a real `ponder --serve`.

    test-readme-snippets.py PATH/TO/ponder PATH/TO/ponder-infer PATH/TO/README.md

The fenced blocks that follow a `<!-- tested by tests/app/test-readme-snippets.py -->` line
in the README are taken as they are written:
- the `sh` block: every curl command runs in bash exactly as printed, except for the port
  (11434 becomes a free port this test picked: 11434 itself may belong to an Ollama on the
  machine, or to another test running at the same time); the ~/.curlrc of the test's HOME
  only adds a write-out line (the HTTP status and content type) after each body;
- the `yaml` block: Continue's config.yaml (provider, model, apiBase are read from it);
- the `json` block: Zed's settings.json (language_models.ollama).
For Continue and Zed the test sends the requests those clients send with the values of the
snippet (the same port substitution), and checks the fields they read.

The server runs with its own HOME, XDG_DATA_HOME, XDG_CONFIG_HOME and XDG_CACHE_HOME, and
no session bus (so it never hands over to a Ponder already running), on a tiny synthetic
model: `ponder-infer synth --preset tiny-qwen2 --type q4_k_m`, with general.name rewritten to
"DeepSeek R1 Distill Qwen 7B", the name bartowski's DeepSeek-R1-Distill-Qwen-7B GGUF files
(Ponder's catalog) carry, so the library gives it the slug the README shows. Its weights are
random: it thinks, but rarely closes its thinking, so an answer ("content") may be empty;
what is checked is that tokens were generated, where they arrive, and the shapes clients
parse.
"""
import json
import os
import re
import shlex
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

MARKER = "<!-- tested by tests/app/test-readme-snippets.py -->"
README_PORT = "11434"
MODEL_NAME = "DeepSeek R1 Distill Qwen 7B"
CTX = 128  # the server's context: bounds how long a random model rambles, and /api/show says it
STATUS_MARK = "@@readme-test-status"

failures = []


def check(condition, what):
    if not condition:
        failures.append(what)
        print(f"FAIL: {what}", flush=True)
    return condition


def fatal(what):
    print(f"FAIL: {what}", flush=True)
    sys.exit(1)


# ---- the README -------------------------------------------------------------------------------


def tested_blocks(readme_text):
    """(language, body) of each fenced block right after the marker."""
    pattern = re.compile(re.escape(MARKER) + r"[ \t]*\n(?:[ \t]*\n)*```(\w*)\n(.*?)\n```", re.S)
    blocks = [(m.group(1), m.group(2)) for m in pattern.finditer(readme_text)]
    if readme_text.count(MARKER) != len(blocks):
        fatal(f"{readme_text.count(MARKER)} markers, but only {len(blocks)} are followed by a "
              "fenced block")
    return blocks


def shell_commands(block):
    """The block's commands: lines joined until the quotes close and no backslash continues."""
    commands, pending = [], ""
    for line in block.split("\n"):
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        pending += line + "\n"
        if pending.rstrip().endswith("\\"):
            continue
        try:
            shlex.split(pending)
        except ValueError:  # an open quote: the command goes on
            continue
        commands.append(pending.rstrip("\n"))
        pending = ""
    if pending:
        fatal(f"unterminated command in the README's sh block: {pending!r}")
    return commands


def continue_config(block):
    """provider, model and apiBase of config.yaml's first model (a flat list item)."""
    values = {}
    for line in block.split("\n"):
        m = re.match(r"^\s*(?:-\s+)?(provider|model|apiBase):\s*(\S+)\s*$", line)
        if m and m.group(1) not in values:
            values[m.group(1)] = m.group(2).strip("\"'")
    for key in ("provider", "model", "apiBase"):
        if key not in values:
            fatal(f"the Continue snippet has no {key}")
    return values


def with_test_port(text, port):
    if README_PORT not in text:
        fatal(f"a tested snippet does not use port {README_PORT}: {text!r}")
    return re.sub(r"(?<=:)" + README_PORT + r"\b", str(port), text)


# ---- the model --------------------------------------------------------------------------------

GGUF_SCALAR = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}
GGUF_STRING, GGUF_ARRAY, GGUF_U32 = 8, 9, 4


def gguf_rename(src, dst, name):
    """Copies a GGUF file with general.name set to NAME (everything else byte for byte)."""
    with open(src, "rb") as f:
        data = f.read()
    pos = 0

    def take(n):
        nonlocal pos
        chunk = data[pos:pos + n]
        pos += n
        return chunk

    def u32():
        return struct.unpack("<I", take(4))[0]

    def u64():
        return struct.unpack("<Q", take(8))[0]

    def string():
        return take(u64())

    def skip_value(kind):
        if kind == GGUF_STRING:
            string()
        elif kind == GGUF_ARRAY:
            item, count = u32(), u64()
            for _ in range(count):
                skip_value(item)
        else:
            take(GGUF_SCALAR[kind])

    if take(4) != b"GGUF":
        fatal(f"{src} is not a GGUF file")
    version, n_tensors, n_kv = u32(), u64(), u64()
    out = [b"GGUF", struct.pack("<IQQ", version, n_tensors, n_kv)]
    alignment, renamed = 32, False
    for _ in range(n_kv):
        start = pos
        key = string()
        kind = u32()
        if key == b"general.name" and kind == GGUF_STRING:
            string()
            encoded = name.encode()
            out.append(struct.pack("<Q", len(key)) + key)
            out.append(struct.pack("<IQ", GGUF_STRING, len(encoded)) + encoded)
            renamed = True
            continue
        if key == b"general.alignment" and kind == GGUF_U32:
            alignment = struct.unpack("<I", data[pos:pos + 4])[0]
        skip_value(kind)
        out.append(data[start:pos])
    tensors_start = pos
    for _ in range(n_tensors):
        string()
        n_dims = u32()
        take(8 * n_dims + 4 + 8)  # dims, type, offset (relative to the data section)
    out.append(data[tensors_start:pos])
    if not renamed:
        fatal(f"{src} has no general.name")
    old_data_start = -(-pos // alignment) * alignment
    header = b"".join(out)
    header += b"\0" * (-len(header) % alignment)
    with open(dst, "wb") as f:
        f.write(header)
        f.write(data[old_data_start:])


# ---- HTTP -------------------------------------------------------------------------------------


def http(method, url, body=None):
    """(status, content type, text) of one request, as a client without extra headers sends it."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            content_type = response.headers.get("Content-Type", "")
            return response.status, content_type, response.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type", ""), e.read().decode()


def parse_json(text, what):
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        check(False, f"{what}: not JSON ({e}): {text[:300]!r}")
        return None


def ndjson_lines(text, what):
    """The objects of an NDJSON body, checked the way Ollama clients read them line by line."""
    lines = [parse_json(line, f"{what}: a line") for line in text.split("\n") if line.strip()]
    if not check(lines and all(isinstance(x, dict) for x in lines), f"{what}: NDJSON objects"):
        return []
    check(text.endswith("\n"), f"{what}: the last line ends with a newline")
    check(all(x.get("done") is False for x in lines[:-1]),
          f"{what}: every line but the last is done: false")
    last = lines[-1]
    check(last.get("done") is True, f"{what}: the last line is done: true")
    check(last.get("done_reason") in ("stop", "length"), f"{what}: done_reason is stop or length, "
          f"not {last.get('done_reason')!r}")
    check(isinstance(last.get("eval_count"), int) and last["eval_count"] >= 1,
          f"{what}: eval_count counts the generated tokens ({last.get('eval_count')!r})")
    check(isinstance(last.get("prompt_eval_count"), int) and last["prompt_eval_count"] >= 1,
          f"{what}: prompt_eval_count counts the prompt")
    for x in lines:
        message = x.get("message")
        if not check(isinstance(message, dict) and message.get("role") == "assistant"
                     and isinstance(message.get("content"), str),
                     f"{what}: message {{role, content}}: {x}"):
            break
        check(isinstance(x.get("model"), str) and isinstance(x.get("created_at"), str),
              f"{what}: model and created_at on every line")
    return lines


def joined(lines, field):
    return "".join(x.get("message", {}).get(field, "") for x in lines)


# ---- the curl snippets ------------------------------------------------------------------------


def run_curl(command, env):
    result = subprocess.run(["bash", "-c", command], env=env, capture_output=True, text=True,
                            timeout=180)
    check(result.returncode == 0, f"`{command}` exited with {result.returncode}: {result.stderr}")
    body, mark, status_line = result.stdout.rpartition("\n" + STATUS_MARK)
    if not check(mark, f"`{command}`: no status line from ~/.curlrc (curl ignored it?)"):
        return 0, "", result.stdout
    status, _, content_type = status_line.strip().partition(" ")
    return int(status), content_type, body


def request_of(command):
    """The URL and JSON body (or None) of a curl command line."""
    words = shlex.split(command)
    urls = [w for w in words if w.startswith("http://")]
    body = None
    for flag in ("-d", "--data", "--data-raw"):
        if flag in words:
            body = json.loads(words[words.index(flag) + 1])
    return urllib.parse.urlparse(urls[0]).path if urls else "", body


def check_models_list(status, content_type, body, slug):
    what = "GET /v1/models"
    check(status == 200, f"{what}: HTTP {status}")
    doc = parse_json(body, what)
    if not isinstance(doc, dict):
        return
    check(doc.get("object") == "list", f"{what}: object is list")
    ids = [m.get("id") for m in doc.get("data", []) if isinstance(m, dict)]
    check(ids == [slug], f"{what}: lists the synthetic model as {slug!r}, not {ids!r}")
    for m in doc.get("data", []):
        check(m.get("object") == "model" and isinstance(m.get("created"), int),
              f"{what}: each model has object and created")


def check_chat_completion(status, content_type, body, slug):
    what = "POST /v1/chat/completions"
    check(status == 200, f"{what}: HTTP {status}: {body[:300]}")
    check(content_type.startswith("application/json"), f"{what}: content type {content_type!r}")
    doc = parse_json(body, what)
    if not isinstance(doc, dict):
        return
    check(doc.get("object") == "chat.completion", f"{what}: object is chat.completion")
    check(doc.get("model") == slug, f"{what}: model is {slug!r}, not {doc.get('model')!r}")
    choice = (doc.get("choices") or [{}])[0]
    message = choice.get("message", {})
    check(message.get("role") == "assistant", f"{what}: choices[0].message.role is assistant")
    content, reasoning = message.get("content"), message.get("reasoning_content")
    check(isinstance(content, str), f"{what}: choices[0].message.content is a string")
    check(isinstance(reasoning, str), f"{what}: choices[0].message.reasoning_content is a string")
    check(isinstance(content, str) and isinstance(reasoning, str) and (content + reasoning).strip(),
          f"{what}: reasoning_content and content hold the generated text")
    check("<think>" not in (content or "") and "</think>" not in (content or ""),
          f"{what}: R1's think markers stay out of content")
    check(choice.get("finish_reason") in ("stop", "length"), f"{what}: finish_reason")
    usage = doc.get("usage", {})
    check(usage.get("completion_tokens", 0) >= 1 and usage.get("prompt_tokens", 0) >= 1,
          f"{what}: usage counts the prompt and the completion: {usage}")


def check_chat_stream(status, content_type, body, slug):
    what = "POST /v1/chat/completions (stream)"
    check(status == 200, f"{what}: HTTP {status}: {body[:300]}")
    check(content_type.startswith("text/event-stream"), f"{what}: content type {content_type!r}")
    events = body.split("\n\n")
    check(len(events) >= 3 and events[-1] == "" and events[-2] == "data: [DONE]",
          f"{what}: events end with data: [DONE]: {body[-200:]!r}")
    chunks = []
    for event in events[:-2]:
        if check(event.startswith("data: "), f"{what}: an event is data: …: {event[:100]!r}"):
            chunks.append(parse_json(event[6:], f"{what}: an event"))
    chunks = [c for c in chunks if isinstance(c, dict)]
    check(chunks and all(c.get("object") == "chat.completion.chunk" and c.get("model") == slug
                         for c in chunks), f"{what}: chat.completion.chunk events for {slug!r}")
    deltas = [(c.get("choices") or [{}])[0].get("delta", {}) for c in chunks]
    text = "".join((d.get("reasoning_content") or "") + (d.get("content") or "") for d in deltas)
    check(text.strip(), f"{what}: the deltas carry reasoning_content or content")
    reasons = [(c.get("choices") or [{}])[0].get("finish_reason") for c in chunks]
    check(reasons and reasons[-1] in ("stop", "length") and all(r is None for r in reasons[:-1]),
          f"{what}: only the last chunk has a finish_reason: {reasons[-3:]}")


def check_ollama_chat(status, content_type, body, slug, think):
    what = "POST /api/chat"
    check(status == 200, f"{what}: HTTP {status}: {body[:300]}")
    check(content_type.startswith("application/x-ndjson"), f"{what}: content type {content_type!r}")
    lines = ndjson_lines(body, what)
    check(all(x.get("model") == slug for x in lines), f"{what}: the prefix resolves to {slug!r}")
    if think:
        check(joined(lines, "thinking").strip(),
              f"{what}: with think, message.thinking carries the reasoning")
    else:
        check(all("thinking" not in x.get("message", {}) for x in lines),
              f"{what}: without think, no message.thinking")
    check("<think>" not in joined(lines, "content"), f"{what}: no think marker in content")


# ---- Continue and Zed -------------------------------------------------------------------------


def check_show(base, model, what):
    status, content_type, body = http("POST", base + "/api/show", model)
    check(status == 200, f"{what}: POST /api/show: HTTP {status}: {body[:300]}")
    return parse_json(body, f"{what}: /api/show") or {}


def replay_continue(config, port, slug):
    what = "Continue"
    check(config["provider"] == "ollama",
          f"{what}: the snippet's provider is ollama (what this test replays)")
    base = with_test_port(config["apiBase"], port).rstrip("/")
    model = config["model"]
    # Continue's Ollama provider asks /api/show for {"name"} when it starts, and takes num_ctx
    # (its context length) and the stop strings from "parameters", one `key value` a line.
    show = check_show(base, {"name": model}, what)
    parameters = show.get("parameters", "")
    num_ctx, stops = None, []
    for line in parameters.split("\n"):
        m = re.match(r'^(\S+)\s+((?:".*")|\S+)$', line)
        if not check(m, f"{what}: /api/show parameters line {line!r} parses as Continue parses it"):
            continue
        if m.group(1) == "num_ctx":
            num_ctx = int(m.group(2))
        elif m.group(1) == "stop":
            stops.append(json.loads(m.group(2)))
    check(num_ctx == CTX, f"{what}: /api/show says the server's context, num_ctx {CTX} ({num_ctx})")
    check(any("end▁of▁sentence" in s for s in stops),
          f"{what}: R1's stop strings in /api/show: {stops}")
    check(isinstance(show.get("template"), str) and show["template"],
          f"{what}: /api/show has a template")
    # Then its chat: the model, the messages, options from /api/show, keep_alive 30 minutes,
    # streamed; it shows message.content of each line.
    request = {"model": model,
               "messages": [{"role": "user", "content": "Write a haiku about the sea."}],
               "options": {"num_ctx": num_ctx, "stop": stops}, "keep_alive": 1800,
               "stream": True}
    status, content_type, body = http("POST", base + "/api/chat", request)
    check(status == 200, f"{what}: POST /api/chat: HTTP {status}: {body[:300]}")
    lines = ndjson_lines(body, f"{what}: /api/chat")
    check(all("thinking" not in x.get("message", {}) for x in lines),
          f"{what}: without think, the reasoning is left out (never mixed into content)")
    check(all(x.get("model") == slug for x in lines), f"{what}: answered by {slug!r}")


def replay_zed(settings, port, slug):
    what = "Zed"
    ollama = settings.get("language_models", {}).get("ollama")
    if not check(isinstance(ollama, dict) and "api_url" in ollama,
                 f"{what}: the snippet has language_models.ollama.api_url"):
        return
    base = with_test_port(ollama["api_url"], port).rstrip("/")
    models = ollama.get("available_models") or []
    if not check(len(models) == 1 and models[0].get("name"),
                 f"{what}: one model in available_models"):
        return
    model = models[0]
    # Zed lists /api/tags and reads each listing's name, modified_at, size, digest and
    # details {format, family, parameter_size, quantization_level} (all required by its parser).
    status, _, body = http("GET", base + "/api/tags")
    check(status == 200, f"{what}: GET /api/tags: HTTP {status}")
    tags = parse_json(body, f"{what}: /api/tags") or {}
    listings = tags.get("models", [])
    check([m.get("name") for m in listings] == [slug], f"{what}: /api/tags lists {slug!r}")
    check(model["name"] in [m.get("name") for m in listings],
          f"{what}: the snippet's model {model['name']!r} is the name /api/tags lists")
    for m in listings:
        details = m.get("details", {})
        check(isinstance(m.get("modified_at"), str) and isinstance(m.get("size"), int)
              and m["size"] > 0 and isinstance(m.get("digest"), str) and len(m["digest"]) == 64,
              f"{what}: /api/tags listing fields: {m}")
        check(all(isinstance(details.get(k), str) for k in ("format", "family", "parameter_size",
                                                             "quantization_level")),
              f"{what}: /api/tags details fields: {details}")
        check(details.get("quantization_level") == "Q4_K_M", f"{what}: quantization_level")
    # Then /api/show {"model"} for the capabilities: "thinking" makes it send think.
    show = check_show(base, {"model": model["name"]}, what)
    capabilities = show.get("capabilities", [])
    check("thinking" in capabilities,
          f"{what}: /api/show capabilities include thinking: {capabilities}")
    check("tools" not in capabilities, f"{what}: no tools capability (Ponder refuses tool calls)")
    check(model.get("supports_thinking") is True, f"{what}: the snippet enables thinking")
    check(not model.get("supports_tools"),
          f"{what}: the snippet leaves tools off (Ponder refuses them)")
    # Zed's chat request (crates/ollama ChatRequest): every field is sent, null when unset.
    request = {"model": model["name"],
               "messages": [{"role": "user", "content": "Explain this code."}],
               "stream": True, "keep_alive": model.get("keep_alive", -1),
               "options": {"num_ctx": model.get("max_tokens"), "num_predict": None, "stop": [],
                           "temperature": 1.0, "top_p": None},
               "tools": [], "think": bool(model.get("supports_thinking"))}
    status, content_type, body = http("POST", base + "/api/chat", request)
    check(status == 200, f"{what}: POST /api/chat: HTTP {status}: {body[:300]}")
    lines = ndjson_lines(body, f"{what}: /api/chat")
    check(joined(lines, "thinking").strip(),
          f"{what}: message.thinking carries the reasoning Zed shows")
    check(all(isinstance(x.get("message", {}).get("thinking", ""), str) for x in lines),
          f"{what}: thinking is a string when present")


# ---- the server -------------------------------------------------------------------------------


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    ponder, ponder_infer, readme = sys.argv[1:]
    if not shutil.which("curl"):
        print("skipped: curl is not installed")
        sys.exit(77)
    shared = os.environ.get("PONDER_SHARED", "../shared")
    tokenizer = os.path.join(shared, "tokenizers", "deepseek-r1-distill-qwen", "tokenizer.json")
    if not os.path.exists(tokenizer):
        print(f"skipped: no tokenizer at {tokenizer}")
        sys.exit(77)
    with open(readme, encoding="utf-8") as f:
        blocks = tested_blocks(f.read())
    by_language = {}
    for language, body in blocks:
        by_language.setdefault(language, []).append(body)
    if sorted(by_language) != ["json", "sh", "yaml"] or any(
            len(v) != 1 for v in by_language.values()):
        fatal(f"expected one tested sh, yaml and json block in the README, found "
              f"{[language for language, _ in blocks]}")

    tmp = tempfile.mkdtemp(prefix="ponder-readme-")
    server = None
    try:
        env = dict(os.environ)
        for var in ("DISPLAY", "WAYLAND_DISPLAY"):
            env.pop(var, None)
        env.update(HOME=tmp, XDG_DATA_HOME=f"{tmp}/data", XDG_CONFIG_HOME=f"{tmp}/config",
                   XDG_CACHE_HOME=f"{tmp}/cache", XDG_RUNTIME_DIR=f"{tmp}/runtime", CURL_HOME=tmp,
                   DBUS_SESSION_BUS_ADDRESS=f"unix:path={tmp}/no-bus")
        # Under ASan the short-lived caches of the display probe are reported as leaks; this
        # test is about behaviour (the unit tests leak-check the app's code).
        env["ASAN_OPTIONS"] = ":".join(filter(None, [env.get("ASAN_OPTIONS"), "detect_leaks=0"]))
        models = f"{tmp}/data/ponder/models"
        os.makedirs(models)
        os.makedirs(f"{tmp}/runtime", mode=0o700)
        synthetic = f"{tmp}/tiny.gguf"
        subprocess.run([ponder_infer, "synth", "--preset", "tiny-qwen2", "--type", "q4_k_m",
                        "--tokenizer", tokenizer, "-o", synthetic, "--seed", "7"],
                       check=True, capture_output=True)
        gguf_rename(synthetic, f"{models}/DeepSeek-R1-Distill-Qwen-7B-Q4_K_M.gguf", MODEL_NAME)
        slug = "deepseek-r1-distill-qwen-7b:q4_k_m"  # ponder_model_make_slug(MODEL_NAME, "Q4_K_M")
        # Only the format of curl's output changes: after the body, the status and content type.
        with open(f"{tmp}/.curlrc", "w") as f:
            f.write(f'write-out = "\\n{STATUS_MARK} %{{http_code}} %{{content_type}}\\n"\n')

        port = free_port()
        log_path = f"{tmp}/server.log"
        log = open(log_path, "w")
        server = subprocess.Popen(
            [ponder, "--serve", "--port", str(port), "--backend", "cpu", "--ctx", str(CTX)],
            env=env, stdout=log, stderr=subprocess.STDOUT)
        base = f"http://127.0.0.1:{port}"
        for _ in range(200):
            if server.poll() is not None:
                fatal(f"ponder --serve exited ({server.returncode}):\n{open(log_path).read()}")
            try:
                if http("GET", base + "/health")[0] == 200:
                    break
            except OSError:
                pass
            time.sleep(0.1)
        else:
            fatal(f"ponder --serve never answered /health:\n{open(log_path).read()}")

        seen = set()
        for command in shell_commands(by_language["sh"][0]):
            started = time.monotonic()
            path, body = request_of(command)
            if not check(command.startswith("curl "), f"the sh block runs curl: {command!r}"):
                continue
            status, content_type, text = run_curl(with_test_port(command, port), env)
            # Ollama's endpoints stream unless told not to; OpenAI's only when asked.
            stream = bool((body or {}).get("stream", path.startswith("/api/")))
            if path == "/v1/models":
                check_models_list(status, content_type, text, slug)
            elif path == "/v1/chat/completions" and stream:
                check_chat_stream(status, content_type, text, slug)
            elif path == "/v1/chat/completions":
                check_chat_completion(status, content_type, text, slug)
            elif path == "/api/chat":
                check_ollama_chat(status, content_type, text, slug, bool(body.get("think")))
            else:
                check(False, f"the test does not know what {path!r} should answer")
                continue
            seen.add((path, stream))
            print(f"ok: {path}{' (stream)' if stream else ''}: HTTP {status} "
                  f"({time.monotonic() - started:.1f} s)", flush=True)
        expected = {("/v1/models", False), ("/v1/chat/completions", False),
                    ("/v1/chat/completions", True), ("/api/chat", True)}
        check(seen == expected, f"the curl snippets cover {sorted(expected)}, not {sorted(seen)}")

        replay_continue(continue_config(by_language["yaml"][0]), port, slug)
        print("ok: Continue's requests", flush=True)
        try:
            zed = json.loads(by_language["json"][0])
        except json.JSONDecodeError as e:
            fatal(f"the Zed snippet is not JSON: {e}")
        replay_zed(zed, port, slug)
        print("ok: Zed's requests", flush=True)

        server.terminate()
        check(server.wait(timeout=30) == 0, f"ponder --serve stopped cleanly on SIGTERM")
        server = None
    finally:
        if server:
            server.kill()
            server.wait()
            print(open(f"{tmp}/server.log").read())
        shutil.rmtree(tmp, ignore_errors=True)
    if failures:
        print(f"{len(failures)} checks failed")
        sys.exit(1)
    print("ok: the README's API snippets work as written")


if __name__ == "__main__":
    main()
