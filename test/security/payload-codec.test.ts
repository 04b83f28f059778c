// Payload encryption: the AES-256-GCM codec on its own (round trips, random IVs, rotation, tampering,
// payloads written before encryption), the key ring's sources and files, and end to end on a real
// Temporal server: what the server stores is ciphertext and encoded failures, while a client with the
// data converter sees the real values.
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { chmod, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { inspect } from 'node:util';
import { ApplicationFailure, Client, Connection, WorkflowFailedError } from '@temporalio/client';
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import proto from '@temporalio/proto';
import { DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { findFreePort, startDevServer, type DevServerHandle } from '../../infra/temporal.js';
import {
  describeKeyRing,
  failureConverter,
  failureConverterPath,
  medreleaseDataConverter,
} from '../../security/data-converter.js';
import {
  AesGcmPayloadCodec,
  AUTHENTICATION_FAILED,
  ENCRYPTED_ENCODING,
  PayloadDecodeError,
} from '../../security/payload-codec.js';
import {
  ensureKeyFile,
  loadKeyRing,
  parseKeyRing,
  PAYLOAD_KEYS_ENV,
  PayloadKeyRing,
  rotateKeyFile,
  type PayloadKey,
} from '../../security/payload-keys.js';
import type { CodecTestActivities, CodecTestInput, echoWorkflow } from './fixtures/codec-workflows.js';

const { History } = proto.temporal.api.history.v1;
const WORKFLOWS = fileURLToPath(new URL('./fixtures/codec-workflows.js', import.meta.url));

function key(id: string): PayloadKey {
  return { id, key: randomBytes(32) };
}

function ring(keys: PayloadKey[], active: string): PayloadKeyRing {
  return new PayloadKeyRing(keys, active);
}

function meta(payload: Payload, name: string): string | undefined {
  const value = payload.metadata?.[name];
  return value ? Buffer.from(value).toString('utf8') : undefined;
}

function bytesOf(payload: Payload): Buffer {
  return Buffer.from(payload.data ?? new Uint8Array());
}

const json = (value: unknown): Payload => defaultPayloadConverter.toPayload(value);

async function rejectsWith(promise: Promise<unknown>, pattern: RegExp | string): Promise<Error> {
  let caught: unknown;
  try {
    await promise;
  } catch (error) {
    caught = error;
  }
  assert.ok(caught instanceof Error, 'expected a rejection');
  if (typeof pattern === 'string') assert.equal(caught.message, pattern);
  else assert.match(caught.message, pattern);
  return caught;
}

describe('the AES-256-GCM payload codec', () => {
  const k1 = key('k1');
  const ringA = ring([k1], 'k1');

  test('round trip of JSON, binary, empty and data-less payloads', async () => {
    const codec = new AesGcmPayloadCodec(ringA);
    const binary = randomBytes(300);
    const originals: Payload[] = [
      json({ patient: 'MRN-00042', findings: ['effusion'], score: 0.93 }),
      { metadata: { encoding: Buffer.from('binary/plain') }, data: binary },
      { metadata: { encoding: Buffer.from('json/plain') }, data: new Uint8Array() },
      { metadata: { encoding: Buffer.from('binary/null') } },
    ];
    const encoded = await codec.encode(originals);
    assert.equal(encoded.length, originals.length);
    for (const payload of encoded) assert.equal(meta(payload, 'encoding'), ENCRYPTED_ENCODING);
    const decoded = await codec.decode(encoded);
    assert.equal(decoded.length, originals.length);
    assert.deepEqual(defaultPayloadConverter.fromPayload(decoded[0]!), {
      patient: 'MRN-00042',
      findings: ['effusion'],
      score: 0.93,
    });
    assert.ok(bytesOf(decoded[1]!).equals(binary));
    assert.equal(meta(decoded[1]!, 'encoding'), 'binary/plain');
    assert.equal(bytesOf(decoded[2]!).length, 0);
    assert.equal(meta(decoded[2]!, 'encoding'), 'json/plain');
    assert.ok(decoded[3]!.data instanceof Uint8Array, 'an absent data field decodes as empty bytes');
    assert.equal(bytesOf(decoded[3]!).length, 0);
    assert.equal(meta(decoded[3]!, 'encoding'), 'binary/null');
    assert.deepEqual(await codec.encode([]), []);
    assert.deepEqual(await codec.decode([]), []);
  });

  test('the ciphertext holds no plaintext, and differs for the same input (random IV)', async () => {
    const codec = new AesGcmPayloadCodec(ringA);
    const marker = 'patient-MRN-00042-chest-xray';
    const payload = json({ marker });
    const [first, second] = await codec.encode([payload, payload]);
    for (const encrypted of [first!, second!]) {
      const wire = Buffer.from(proto.temporal.api.common.v1.Payload.encode(encrypted).finish());
      assert.ok(!wire.includes(marker), 'the marker is not in the encrypted payload');
      assert.ok(!wire.includes('json/plain'), 'nor is the original encoding');
      // 12-byte IV, the encrypted protobuf of the original payload, 16-byte tag.
      const inner = proto.temporal.api.common.v1.Payload.encode(payload).finish().length;
      assert.equal(bytesOf(encrypted).length, 12 + inner + 16);
    }
    assert.ok(!bytesOf(first!).equals(bytesOf(second!)), 'two encryptions of one payload differ');
    assert.ok(!bytesOf(first!).subarray(0, 12).equals(bytesOf(second!).subarray(0, 12)), 'IVs differ');
  });

  test('the metadata names the encoding, the cipher and the key id', async () => {
    const [encrypted] = await new AesGcmPayloadCodec(ringA).encode([json('x')]);
    assert.deepEqual(Object.keys(encrypted!.metadata ?? {}).sort(), [
      'encoding',
      'encryption-cipher',
      'encryption-key-id',
    ]);
    assert.equal(meta(encrypted!, 'encoding'), 'binary/encrypted');
    assert.equal(meta(encrypted!, 'encryption-cipher'), 'AES256-GCM');
    assert.equal(meta(encrypted!, 'encryption-key-id'), 'k1');
  });

  test('rotation: payloads of the old key still decode, new ones use the new key', async () => {
    const [old] = await new AesGcmPayloadCodec(ringA).encode([json({ before: 'rotation' })]);
    const k2 = key('k2');
    const rotated = new AesGcmPayloadCodec(ring([k1, k2], 'k2'));
    const [decodedOld] = await rotated.decode([old!]);
    assert.deepEqual(defaultPayloadConverter.fromPayload(decodedOld!), { before: 'rotation' });
    const [fresh] = await rotated.encode([json({ after: 'rotation' })]);
    assert.equal(meta(fresh!, 'encryption-key-id'), 'k2');
    assert.deepEqual(defaultPayloadConverter.fromPayload((await rotated.decode([fresh!]))[0]!), {
      after: 'rotation',
    });
    // A ring that dropped k1 cannot read the old payload, and says which key it lacks.
    const withoutK1 = new AesGcmPayloadCodec(ring([k2], 'k2'));
    const error = await rejectsWith(withoutK1.decode([old!]), /'k1'/);
    assert.ok(error instanceof PayloadDecodeError);
    assert.match(error.message, /not loaded \(loaded keys: k2\)/);
  });

  test('a flipped ciphertext byte fails authentication', async () => {
    const codec = new AesGcmPayloadCodec(ringA);
    const [encrypted] = await codec.encode([json({ dose: '5 mg' })]);
    for (const position of [0, 20, bytesOf(encrypted!).length - 1]) {
      const data = Uint8Array.from(bytesOf(encrypted!));
      data[position]! ^= 0x01;
      await rejectsWith(codec.decode([{ ...encrypted!, data }]), AUTHENTICATION_FAILED);
    }
  });

  test('a payload moved under another key id fails authentication', async () => {
    const k2 = key('k2');
    const both = ring([k1, k2], 'k1');
    const codec = new AesGcmPayloadCodec(both);
    const [encrypted] = await codec.encode([json({ dose: '5 mg' })]);
    const moved: Payload = {
      ...encrypted!,
      metadata: { ...encrypted!.metadata, 'encryption-key-id': Buffer.from('k2') },
    };
    await rejectsWith(codec.decode([moved]), AUTHENTICATION_FAILED);
    // The same id with another key's bytes (a key replaced instead of rotated) fails the same way.
    const impostor = new AesGcmPayloadCodec(ring([key('k1')], 'k1'));
    await rejectsWith(impostor.decode([encrypted!]), AUTHENTICATION_FAILED);
  });

  test('payloads written before encryption pass through unchanged', async () => {
    const codec = new AesGcmPayloadCodec(ringA);
    const plain = [json({ legacy: true }), { metadata: { encoding: Buffer.from('binary/null') } }, {}];
    const decoded = await codec.decode(plain);
    assert.equal(decoded.length, 3);
    for (const [index, payload] of decoded.entries()) assert.equal(payload, plain[index]);
  });

  test('an encrypted payload with another cipher, or truncated, is refused', async () => {
    const codec = new AesGcmPayloadCodec(ringA);
    const [encrypted] = await codec.encode([json(1)]);
    await rejectsWith(
      codec.decode([
        {
          ...encrypted!,
          metadata: { ...encrypted!.metadata, 'encryption-cipher': Buffer.from('AES128-CBC') },
        },
      ]),
      /cipher 'AES128-CBC'/,
    );
    await rejectsWith(
      codec.decode([{ ...encrypted!, data: bytesOf(encrypted!).subarray(0, 20) }]),
      /too short/,
    );
  });

  test('the data converter: the codec, and the failure converter by path', async () => {
    const converter = medreleaseDataConverter(ringA);
    assert.equal(converter.payloadCodecs.length, 1);
    assert.ok(converter.payloadCodecs[0] instanceof AesGcmPayloadCodec);
    assert.equal(converter.failureConverterPath, failureConverterPath());
    assert.equal(path.basename(converter.failureConverterPath), 'failure-converter.js');
    // The module the SDK require()s is this very module.
    const loaded = (await import(converter.failureConverterPath)) as { failureConverter: unknown };
    assert.equal(loaded.failureConverter, failureConverter);
    assert.equal(converter.failureConverter, failureConverter);
    const failure = failureConverter.errorToFailure(
      ApplicationFailure.create({ message: 'MRN-00042 refused' }),
      defaultPayloadConverter,
    );
    assert.equal(failure.message, 'Encoded failure');
    assert.ok(failure.encodedAttributes, 'message and stack trace are in a payload the codec encrypts');
    assert.deepEqual(describeKeyRing(ring([k1, key('k2')], 'k2')), { active: 'k2', keyIds: ['k1', 'k2'] });
  });
});

describe('the payload key ring', () => {
  const keyText = randomBytes(32).toString('base64');
  const otherKeyText = randomBytes(32).toString('base64');
  const shortKeyText = randomBytes(16).toString('base64');

  function parseError(json: unknown): string {
    try {
      parseKeyRing(json, 'test ring');
    } catch (error) {
      assert.ok(error instanceof Error);
      return error.message;
    }
    assert.fail('the ring should have been refused');
  }

  test('a valid ring: the active key, every key by id', () => {
    const parsed = parseKeyRing(
      {
        active: 'k2026-11',
        keys: [
          { id: 'k2026-10', key: otherKeyText, createdAt: '2026-10-01T00:00:00Z' },
          { id: 'k2026-11', key: keyText, createdAt: '2026-11-01T00:00:00Z' },
        ],
      },
      'test ring',
    );
    assert.equal(parsed.active.id, 'k2026-11');
    assert.ok(parsed.active.key.equals(Buffer.from(keyText, 'base64')));
    assert.deepEqual(parsed.ids(), ['k2026-10', 'k2026-11']);
    assert.ok(parsed.get('k2026-10')?.key.equals(Buffer.from(otherKeyText, 'base64')));
    assert.equal(parsed.get('k-none'), undefined);
  });

  test('errors name the source and the JSON pointer, never the key material', () => {
    const short = parseError({ active: 'a', keys: [{ id: 'a', key: shortKeyText }] });
    assert.match(short, /^test ring: /);
    assert.match(short, /\/keys\/0\/key: must decode to exactly 32 bytes \(it decodes to 16\)/);
    assert.ok(!short.includes(shortKeyText));

    const duplicate = parseError({
      active: 'a',
      keys: [
        { id: 'a', key: keyText },
        { id: 'a', key: otherKeyText },
      ],
    });
    assert.match(duplicate, /\/keys\/1\/id: duplicate key id 'a' \(also at \/keys\/0\/id\)/);

    const missingActive = parseError({ active: 'b', keys: [{ id: 'a', key: keyText }] });
    assert.match(missingActive, /\/active: names 'b', which is not one of the keys \(a\)/);

    const several = parseError({
      keys: [{ id: 'bad id!', key: `${keyText.slice(0, 40)}!!!!` }, { key: otherKeyText }, 'x'],
    });
    assert.match(several, /\/keys\/0\/id: must be a string matching/);
    assert.match(several, /\/keys\/0\/key: must be a string: the standard base64/);
    assert.match(several, /\/keys\/1\/id/);
    assert.match(several, /\/keys\/2: must be an object/);
    assert.match(several, /\/active: must be the id of one of the keys/);
    assert.match(parseError({ active: 'a', keys: [] }), /\/keys: must be a non-empty array/);
    assert.match(parseError([]), /\(root\): must be an object/);

    for (const message of [short, duplicate, missingActive, several]) {
      for (const secret of [keyText, otherKeyText, shortKeyText, keyText.slice(0, 40)]) {
        assert.ok(!message.includes(secret), `no key material in: ${message}`);
      }
    }
  });

  test('neither inspection nor JSON of a ring shows key material', () => {
    const parsed = parseKeyRing({ active: 'a', keys: [{ id: 'a', key: keyText }] }, 'test ring');
    for (const shown of [inspect(parsed, { depth: 5 }), JSON.stringify(parsed)]) {
      assert.ok(!shown.includes(keyText), shown);
      assert.ok(!shown.includes(Buffer.from(keyText, 'base64').toString('hex').slice(0, 8)), shown);
    }
    assert.match(inspect(parsed), /active: 'a'/);
  });

  describe('sources and key files', () => {
    let directory: string;
    before(async () => {
      directory = await mkdtemp(path.join(tmpdir(), 'medrelease-keys-'));
    });
    after(() => rm(directory, { recursive: true, force: true }));

    const ringJson = (id: string, text = keyText) => ({ active: id, keys: [{ id, key: text }] });

    test('precedence: the environment variable, then inline settings, then the key file', async () => {
      const file = path.join(directory, 'precedence.json');
      await writeFile(file, JSON.stringify(ringJson('from-file')), { mode: 0o600 });
      const env = { [PAYLOAD_KEYS_ENV]: JSON.stringify(ringJson('from-env')) };
      const inline = ringJson('from-inline');
      assert.equal(loadKeyRing({ keyFile: file, inline, env }).active.id, 'from-env');
      assert.equal(loadKeyRing({ keyFile: file, inline, env: {} }).active.id, 'from-inline');
      assert.equal(
        loadKeyRing({ keyFile: file, inline: JSON.stringify(inline), env: {} }).active.id,
        'from-inline',
      );
      assert.equal(loadKeyRing({ keyFile: file, env: { [PAYLOAD_KEYS_ENV]: ' ' } }).active.id, 'from-file');
      assert.throws(
        () => loadKeyRing({ env: {} }),
        (error: Error) => {
          assert.match(error.message, /no payload encryption keys are configured/);
          assert.match(error.message, new RegExp(PAYLOAD_KEYS_ENV));
          assert.match(error.message, /inline/);
          assert.match(error.message, /key file/);
          return true;
        },
      );
    });

    test('a malformed environment variable is named, and its text is not repeated', () => {
      const text = `{"active": "a", "keys": [{"id": "a", "key": "${keyText}"`;
      assert.throws(
        () => loadKeyRing({ env: { [PAYLOAD_KEYS_ENV]: text } }),
        (error: Error) => {
          assert.match(error.message, /environment variable MEDRELEASE_PAYLOAD_KEYS is not valid JSON/);
          assert.ok(!error.message.includes(keyText.slice(0, 8)));
          return true;
        },
      );
      assert.throws(
        () => loadKeyRing({ env: { [PAYLOAD_KEYS_ENV]: JSON.stringify(ringJson('a', shortKeyText)) } }),
        /environment variable MEDRELEASE_PAYLOAD_KEYS: invalid payload key ring: \/keys\/0\/key/,
      );
    });

    test('a key file readable by group or others is refused', async () => {
      const file = path.join(directory, 'open.json');
      await writeFile(file, JSON.stringify(ringJson('a')));
      await chmod(file, 0o644);
      assert.throws(
        () => loadKeyRing({ keyFile: file, env: {} }),
        (error: Error) => {
          assert.match(error.message, /accessible by group or others \(mode 0644\)/);
          assert.ok(error.message.includes(`chmod 600 ${file}`));
          return true;
        },
      );
      await assert.rejects(rotateKeyFile(file), /chmod 600/);
      await chmod(file, 0o600);
      assert.equal(loadKeyRing({ keyFile: file, env: {} }).active.id, 'a');
      assert.throws(
        () => loadKeyRing({ keyFile: path.join(directory, 'missing.json'), env: {} }),
        /missing\.json does not exist/,
      );
    });

    test('ensureKeyFile creates a 0600 ring with one fresh key, and never overwrites', async () => {
      const file = path.join(directory, 'nested', 'keys', 'payload-keys.json');
      assert.deepEqual(await ensureKeyFile(file), { created: true });
      assert.equal((await stat(file)).mode & 0o777, 0o600);
      assert.equal((await stat(path.dirname(file))).mode & 0o777, 0o700);
      const first = await readFile(file, 'utf8');
      const created = loadKeyRing({ keyFile: file, env: {} });
      assert.match(created.active.id, /^k\d{8}-[0-9a-f]{4}$/);
      assert.equal(created.active.id.slice(1, 9), new Date().toISOString().slice(0, 10).replaceAll('-', ''));
      assert.deepEqual(created.ids(), [created.active.id]);
      const raw = JSON.parse(first) as { keys: { createdAt: string }[] };
      assert.ok(!Number.isNaN(Date.parse(raw.keys[0]!.createdAt)));

      assert.deepEqual(await ensureKeyFile(file), { created: false });
      assert.equal(await readFile(file, 'utf8'), first, 'the existing ring is untouched');
      // Not even a file that is not a ring is overwritten.
      const other = path.join(directory, 'not-a-ring.json');
      await writeFile(other, 'keep me', { mode: 0o600 });
      assert.deepEqual(await ensureKeyFile(other), { created: false });
      assert.equal(await readFile(other, 'utf8'), 'keep me');
    });

    test('rotateKeyFile adds an active key and keeps the old ones', async () => {
      const file = path.join(directory, 'rotate', 'payload-keys.json');
      await ensureKeyFile(file);
      const before = loadKeyRing({ keyFile: file, env: {} });
      const [old] = await new AesGcmPayloadCodec(before).encode([json({ written: 'before rotation' })]);

      const rotation = await rotateKeyFile(file);
      assert.deepEqual(rotation.previous, [before.active.id]);
      assert.notEqual(rotation.active, before.active.id);
      assert.match(rotation.active, /^k\d{8}-[0-9a-f]{4}$/);
      assert.equal((await stat(file)).mode & 0o777, 0o600);
      assert.deepEqual(await readdir(path.dirname(file)), ['payload-keys.json'], 'no temporary file is left');

      const after = loadKeyRing({ keyFile: file, env: {} });
      assert.equal(after.active.id, rotation.active);
      assert.deepEqual(after.ids(), [before.active.id, rotation.active]);
      assert.ok(after.get(before.active.id)?.key.equals(before.active.key), 'the old key is kept as it was');
      const codec = new AesGcmPayloadCodec(after);
      assert.deepEqual(defaultPayloadConverter.fromPayload((await codec.decode([old!]))[0]!), {
        written: 'before rotation',
      });
      const [fresh] = await codec.encode([json(1)]);
      assert.equal(meta(fresh!, 'encryption-key-id'), rotation.active);

      const again = await rotateKeyFile(file);
      assert.deepEqual(again.previous, [before.active.id, rotation.active]);
      assert.equal(loadKeyRing({ keyFile: file, env: {} }).ids().length, 3);
    });
  });
});

describe('end to end on a real Temporal server', () => {
  let server: DevServerHandle | undefined;
  let dataDir: string;
  let address: string;
  let nativeConnection: NativeConnection;
  let connection: Connection;
  let codecClient: Client;
  let rawClient: Client;
  const namespace = 'default';
  const taskQueue = `codec-e2e-${randomUUID()}`;
  const keyRing = ring([key('k-e2e-old'), key('k-e2e')], 'k-e2e');
  const activities: CodecTestActivities = {
    echo: async (input) => Promise.resolve(`echo of ${input.marker}`),
    explode: async (input) => {
      await Promise.resolve();
      throw ApplicationFailure.nonRetryable(`activity refused ${input.marker}`, 'CodecTestFailure');
    },
  };

  before(async () => {
    Runtime.install({ logger: new DefaultLogger('ERROR') });
    dataDir = await mkdtemp(path.join(tmpdir(), 'medrelease-codec-e2e-'));
    const given = process.env.TEMPORAL_TEST_ADDRESS;
    if (given) {
      address = given;
    } else {
      server = await startDevServer({
        dbFile: path.join(dataDir, 'temporal.db'),
        port: await findFreePort(),
        headless: true,
      });
      address = server.address;
    }
    nativeConnection = await NativeConnection.connect({ address });
    connection = await Connection.connect({ address });
    codecClient = new Client({ connection, namespace, dataConverter: medreleaseDataConverter(keyRing) });
    rawClient = new Client({ connection, namespace });
  });
  after(async () => {
    await connection?.close();
    await nativeConnection?.close();
    await server?.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  /** Every payload of a history event, from the raw (undecoded) history. */
  function eventPayloads(event: proto.temporal.api.history.v1.IHistoryEvent): Payload[] {
    const found: Payload[] = [];
    const visit = (value: unknown) => {
      if (!value || typeof value !== 'object') return;
      if (value instanceof Uint8Array) return;
      if ('metadata' in value && 'data' in value) {
        found.push(value as Payload);
        return;
      }
      // Search attributes are indexed by the server, so they are never encrypted.
      for (const [name, child] of Object.entries(value)) if (name !== 'searchAttributes') visit(child);
    };
    visit(event);
    return found;
  }

  async function rawHistory(workflowId: string) {
    const history = await rawClient.workflow.getHandle(workflowId).fetchHistory();
    return { history, bytes: Buffer.from(History.encode(History.fromObject(history)).finish()) };
  }

  function assertEncrypted(payloads: Payload[], marker: string, what: string): void {
    assert.ok(payloads.length > 0, `${what} has payloads`);
    for (const payload of payloads) {
      assert.equal(meta(payload, 'encoding'), ENCRYPTED_ENCODING, `${what}: encrypted`);
      assert.equal(meta(payload, 'encryption-key-id'), 'k-e2e', `${what}: with the active key`);
      assert.ok(!bytesOf(payload).includes(marker), `${what}: no plaintext`);
    }
  }

  test('inputs, results, memos and failures reach the server encrypted; the codec client sees them', async () => {
    const worker = await Worker.create({
      connection: nativeConnection,
      namespace,
      taskQueue,
      workflowsPath: WORKFLOWS,
      activities,
      dataConverter: medreleaseDataConverter(keyRing),
    });
    await worker.runUntil(async () => {
      const marker = `MRN-${randomUUID()}`;
      const input: CodecTestInput = { marker, bytes: [1, 2, 3] };

      // A workflow that completes: its input, memo, activity input and result, and its result.
      const echoId = `codec-echo-${randomUUID()}`;
      const result = await codecClient.workflow.execute<typeof echoWorkflow>('echoWorkflow', {
        workflowId: echoId,
        taskQueue,
        args: [input],
        memo: { note: `memo of ${marker}` },
      });
      assert.deepEqual(result, { echoed: `echo of ${marker}`, input });
      const described = await codecClient.workflow.getHandle(echoId).describe();
      assert.deepEqual(described.memo, { note: `memo of ${marker}` });

      const echo = await rawHistory(echoId);
      assert.ok(!echo.bytes.includes(marker), 'the marker appears nowhere in the stored history');
      const events = echo.history.events ?? [];
      const started = events.find((event) => event.workflowExecutionStartedEventAttributes);
      assertEncrypted(
        started?.workflowExecutionStartedEventAttributes?.input?.payloads ?? [],
        marker,
        'workflow input',
      );
      assertEncrypted(
        Object.values(started?.workflowExecutionStartedEventAttributes?.memo?.fields ?? {}),
        marker,
        'memo',
      );
      const completed = events.find((event) => event.workflowExecutionCompletedEventAttributes);
      assertEncrypted(
        completed?.workflowExecutionCompletedEventAttributes?.result?.payloads ?? [],
        marker,
        'workflow result',
      );
      const activityResult = events.find((event) => event.activityTaskCompletedEventAttributes);
      assertEncrypted(
        activityResult?.activityTaskCompletedEventAttributes?.result?.payloads ?? [],
        marker,
        'activity result',
      );
      assertEncrypted(events.flatMap(eventPayloads), marker, 'every payload of the history');
      // Without the data converter a client cannot even read the result.
      await assert.rejects(rawClient.workflow.getHandle(echoId).result(), /binary\/encrypted/);

      // A workflow that fails in workflow code (the sandbox's failure converter).
      const failingId = `codec-failing-${randomUUID()}`;
      const failure = await rejectsWith(
        codecClient.workflow.execute('failingWorkflow', { workflowId: failingId, taskQueue, args: [input] }),
        /Workflow execution failed/,
      );
      assert.ok(failure instanceof WorkflowFailedError);
      assert.ok(failure.cause instanceof ApplicationFailure);
      assert.equal(failure.cause.message, `workflow refused ${marker}`);
      assert.equal(failure.cause.type, 'CodecTestFailure');
      const failing = await rawHistory(failingId);
      assert.ok(!failing.bytes.includes(marker), 'the failure message is not stored in plaintext');
      const failedEvent = (failing.history.events ?? []).find(
        (event) => event.workflowExecutionFailedEventAttributes,
      );
      const storedFailure = failedEvent?.workflowExecutionFailedEventAttributes?.failure;
      assert.equal(storedFailure?.message, 'Encoded failure');
      assert.ok(!storedFailure?.stackTrace, 'no plaintext stack trace');
      assertEncrypted([storedFailure?.encodedAttributes ?? {}], marker, 'workflow failure attributes');

      // A workflow whose activity fails (the worker's own failure converter).
      const activityFailingId = `codec-activity-failing-${randomUUID()}`;
      const activityFailure = await rejectsWith(
        codecClient.workflow.execute('failingActivityWorkflow', {
          workflowId: activityFailingId,
          taskQueue,
          args: [input],
        }),
        /Workflow execution failed/,
      );
      assert.ok(activityFailure instanceof WorkflowFailedError);
      assert.equal(
        (activityFailure.cause?.cause as Error | undefined)?.message,
        `activity refused ${marker}`,
      );
      const activityFailing = await rawHistory(activityFailingId);
      assert.ok(!activityFailing.bytes.includes(marker), 'the activity failure is not stored in plaintext');
      const taskFailed = (activityFailing.history.events ?? []).find(
        (event) => event.activityTaskFailedEventAttributes,
      );
      assert.equal(taskFailed?.activityTaskFailedEventAttributes?.failure?.message, 'Encoded failure');
    });
  });
});
