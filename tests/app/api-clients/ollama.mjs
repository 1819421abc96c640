// The official `ollama` npm client against Ponder's local API: list, show, ps, version,
// chat and generate, streaming and not, with and without thinking. Run by
// tests/app/test-api:
//   node ollama.mjs BASE_URL MODEL
// Greedy sampling, so the streamed text must equal the non-streamed text. Exits 1 with a
// message on the first mismatch.
import { Ollama } from 'ollama';

const [base, model] = process.argv.slice(2);
const ollama = new Ollama({ host: base });

function check(condition, message) {
    if (!condition) {
        console.error(`ollama client: ${message}`);
        process.exit(1);
    }
}

const list = await ollama.list();
check(list.models.some((m) => m.name === model && m.details.format === 'gguf'), `${model} not in /api/tags`);
const show = await ollama.show({ model });
check(Number.isInteger(show.model_info[`${show.model_info['general.architecture']}.context_length`]),
      'show: context_length');
check(show.capabilities.includes('completion') && show.capabilities.includes('thinking'), 'show: capabilities');
const version = await ollama.version();
check(/^\d+\.\d+\.\d+$/.test(version.version), 'version');

const options = { temperature: 0, num_predict: 20 };
const messages = [{ role: 'user', content: 'Why is the sky blue?' }];
for (const think of [true, false]) {
    const full = await ollama.chat({ model, messages, think, options, stream: false });
    check(full.done === true && full.message.role === 'assistant', 'chat: done/role');
    check(Number.isInteger(full.eval_count) && full.eval_count <= 20, 'chat: eval_count');
    check(think ? typeof full.message.thinking === 'string' : full.message.thinking === undefined,
          `chat: thinking with think=${think}`);
    let content = '';
    let thinking = '';
    let last = null;
    for await (const part of await ollama.chat({ model, messages, think, options, stream: true })) {
        content += part.message.content;
        thinking += part.message.thinking ?? '';
        last = part;
    }
    check(content === full.message.content, `chat: streamed content differs (think=${think})`);
    check(thinking === (full.message.thinking ?? ''), 'chat: streamed thinking differs');
    check(last.done && last.done_reason === full.done_reason && last.eval_count === full.eval_count,
          'chat: last streamed part');
}

// think as Ollama takes it: false answers without thinking, a level thinks within its budget.
const low = await ollama.chat({ model, messages, think: 'low', options, stream: false });
check(low.done === true && typeof low.message.thinking === 'string', 'chat: think "low"');
try {
    await ollama.chat({ model, messages, think: 'extreme', options, stream: false });
    check(false, 'think "extreme" was accepted');
} catch (error) {
    check(error.status_code === 400 && /think/.test(error.error), `think "extreme": ${error}`);
}

const generated = await ollama.generate({ model, prompt: 'Tell me a story.', options, stream: false });
let response = '';
for await (const part of await ollama.generate({ model, prompt: 'Tell me a story.', options, stream: true }))
    response += part.response;
check(response === generated.response, 'generate: streamed response differs');

const ps = await ollama.ps();
check(ps.models.some((m) => m.name === model), 'ps: the loaded model');

try {
    await ollama.chat({ model: 'no-such-model', messages, stream: false });
    check(false, 'an unknown model was accepted');
} catch (error) {
    check(error.status_code === 404 && /not found/.test(error.error), `unknown model: ${error}`);
}
console.log('ollama client: ok');
