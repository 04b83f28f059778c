// The prometheus telemetry source's query templates, window plan and the release settings that
// configure them (no Prometheus needed: test/telemetry/ runs the source against a real one).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  DEFAULT_QUERIES,
  DEFAULT_SELECTOR,
  LOAD_QUERY,
  PrometheusTelemetrySource,
  duration,
  renderTemplate,
  templateProblems,
} from '../../activities/telemetry/prometheus.js';
import { parseConfig, ConfigError } from '../../domain/config.js';
import type { CreateReleaseRequest } from '../../domain/release.js';
import { releaseRequestProblems } from '../../domain/release-input.js';

describe('prometheus query templates', () => {
  test('placeholders are replaced, PromQL braces are kept, label values are escaped', () => {
    const selector = renderTemplate(DEFAULT_SELECTOR, {
      model: 'sepsis-risk',
      version: '2.0.0',
      cloud: 'aws',
      track: 'canary',
    });
    assert.equal(selector, 'model="sepsis-risk",version="2.0.0",cloud="aws",track="canary"');
    const query = renderTemplate(DEFAULT_QUERIES.latency_p99_ms!, { selector, rate: duration(3) });
    assert.equal(
      query,
      '1000 * histogram_quantile(0.99, sum by (le) (rate(inference_request_duration_seconds_bucket{model="sepsis-risk",version="2.0.0",cloud="aws",track="canary"}[3000ms])))',
    );
    assert.equal(duration(0.5), '500ms');
    assert.equal(duration(1 / 3), '333ms');
    // An unknown placeholder stays visible rather than vanishing into valid PromQL.
    assert.equal(renderTemplate('up{{{nope}}}', {}), 'up{{{nope}}}');
  });

  test('every default query uses known placeholders only', () => {
    for (const [metric, template] of Object.entries(DEFAULT_QUERIES)) {
      assert.deepEqual(templateProblems(template), [], metric);
    }
    assert.deepEqual(templateProblems('rate(x{{{selector}}}[{{rte}}])'), [
      'unknown placeholder {{rte}} (allowed: {{selector}}, {{rate}}, {{window}}, {{model}}, {{version}}, {{cloud}}, {{track}})',
    ]);
  });

  test('the window plan: up to 30 independent samples per window, one step per rate window, bounded history', () => {
    const source = new PrometheusTelemetrySource({
      cloud: 'aws',
      url: 'http://127.0.0.1:1',
      scrapeIntervalSeconds: 0.5,
    });
    assert.deepEqual(source.windowPlan({ windowSeconds: 60 }), {
      windowSeconds: 60,
      stepSeconds: 2,
      rateSeconds: 2,
      historySeconds: 240,
    });
    assert.deepEqual(source.windowPlan({ windowSeconds: 30 }), {
      windowSeconds: 30,
      stepSeconds: 1,
      rateSeconds: 1,
      historySeconds: 120,
    });
    // A zero interval (workflow tests) still asks Prometheus for ten scrapes' worth.
    assert.equal(source.windowPlan({ windowSeconds: 0 }).windowSeconds, 5);
    // A look into an interval samples at the whole interval's step: its samples are the first of the
    // interval's (2 of 4 looks into 60 s: 30 s at the 2 s step, 15 of the interval's 30 samples).
    assert.deepEqual(source.windowPlan({ windowSeconds: 30, look: 2, looks: 4 }), {
      windowSeconds: 30,
      stepSeconds: 2,
      rateSeconds: 2,
      historySeconds: 240,
    });
    assert.deepEqual(
      source.windowPlan({ windowSeconds: 60, look: 4, looks: 4 }),
      source.windowPlan({ windowSeconds: 60 }),
    );
    // The load query of predictive scaling: every version and track of the model in the cloud.
    assert.equal(
      renderTemplate(LOAD_QUERY, { model: 'cxr', cloud: 'aws', rate: '60000ms' }),
      'sum(rate(inference_requests_total{model="cxr",cloud="aws"}[60000ms]))',
    );
    // At the usual 15 s scrape interval a step is at least 30 s: 10 samples in a 5-minute window.
    const production = new PrometheusTelemetrySource({ cloud: 'aws', url: 'http://p:9090' });
    assert.deepEqual(production.windowPlan({ windowSeconds: 300 }), {
      windowSeconds: 300,
      stepSeconds: 30,
      rateSeconds: 30,
      historySeconds: 3600,
    });
    assert.equal(production.windowPlan({ windowSeconds: 1200 }).stepSeconds, 40);
    // The release's settings win (a step below two scrapes keeps a rate window of two: overlapping);
    // history never exceeds Prometheus's 11,000 points.
    assert.deepEqual(
      production.windowPlan({ windowSeconds: 300, settings: { stepSeconds: 15, historySeconds: 86_400 } }),
      { windowSeconds: 300, stepSeconds: 15, rateSeconds: 30, historySeconds: 86_400 },
    );
    assert.equal(
      production.windowPlan({ windowSeconds: 300, settings: { stepSeconds: 1, historySeconds: 14 * 86_400 } })
        .historySeconds,
      10_999,
    );
    assert.throws(
      () => new PrometheusTelemetrySource({ cloud: 'aws', url: 'http://p', selector: 'job="{{job}}"' }),
      /prometheus selector: unknown placeholder \{\{job\}\}/,
    );
  });
});

describe('configuration and release settings for prometheus telemetry', () => {
  const config = parseConfig({
    compliance: { requireManifest: false },
    clouds: [
      { name: 'aws', driver: 'simulated', region: 'us-east-1', jurisdiction: 'US' },
      {
        name: 'gcp',
        driver: 'simulated',
        region: 'europe-west4',
        jurisdiction: 'EU',
        telemetry: 'prometheus',
        prometheus: { url: 'http://127.0.0.1:9090', scrapeIntervalSeconds: 1 },
      },
    ],
  });
  const request = (
    canary: CreateReleaseRequest['canary'],
    clouds = ['aws', 'gcp'],
  ): CreateReleaseRequest => ({
    model: { name: 'm', version: '2', image: `r/m:2@sha256:${'ab'.repeat(32)}` },
    clouds,
    canary,
  });

  test('telemetry: prometheus needs its section, and the url must be http(s)', () => {
    assert.throws(
      () =>
        parseConfig({
          clouds: [
            { name: 'aws', driver: 'simulated', region: 'r', jurisdiction: 'US', telemetry: 'prometheus' },
          ],
        }),
      (error: unknown) =>
        error instanceof ConfigError &&
        /\/clouds\/0\/prometheus: required with telemetry: prometheus/.test(error.message),
    );
    assert.throws(
      () =>
        parseConfig({
          clouds: [
            {
              name: 'aws',
              driver: 'simulated',
              region: 'r',
              jurisdiction: 'US',
              telemetry: 'prometheus',
              prometheus: { url: 'prometheus:9090' },
            },
          ],
        }),
      /\/clouds\/0\/prometheus\/url/,
    );
  });

  test('a query template with an unknown placeholder or a bad metric name is refused by field', () => {
    const problems = releaseRequestProblems(
      request({
        telemetry: { queries: { queue_depth: 'sum(q{{{selector}},x="{{job}}"})', 'bad name': 'up' } },
      }),
      config,
    );
    assert.deepEqual(
      problems.map((problem) => problem.field),
      ['/canary/telemetry/queries/queue_depth', '/canary/telemetry/queries/bad name'],
    );
    assert.match(problems[0]!.message, /unknown placeholder \{\{job\}\}/);
  });

  test('a window too short for the judge’s sample count on that scrape interval is refused, saying what would do', () => {
    const slow = parseConfig({
      compliance: { requireManifest: false },
      clouds: [
        {
          name: 'aws',
          driver: 'simulated',
          region: 'us-east-1',
          jurisdiction: 'US',
          telemetry: 'prometheus',
          prometheus: { url: 'http://127.0.0.1:9090' },
        },
      ],
    });
    // The default 300 s window at the default 15 s scrape: one sample per 30 s step, 10 of 20.
    const problems = releaseRequestProblems(request({ pacing: 'fixed' }, ['aws']), slow);
    assert.equal(problems.length, 1);
    assert.equal(problems[0]!.field, '/canary/analysisIntervalSeconds');
    assert.match(
      problems[0]!.message,
      /aws reads Prometheus, which scrapes every 15 s: a 300 s window holds 10 independent samples \(one per 30 s step\) and the judge needs 20; use an analysis interval of at least 600 s, or set/,
    );
    assert.deepEqual(
      releaseRequestProblems(request({ analysisIntervalSeconds: 600, pacing: 'fixed' }, ['aws']), slow),
      [],
    );
    // Adaptive pacing (the default) may halve the interval: the request must allow for it.
    const adaptive = releaseRequestProblems(request({ analysisIntervalSeconds: 600 }, ['aws']), slow);
    assert.match(
      adaptive[0]!.message,
      /a 300 s window holds 10 independent samples .* use an analysis interval of at least 1200 s \(adaptive pacing may shorten it to 0.5 × as a 600 s interval goes to 300 s\), pin the plan with canary.pacing 'fixed'/,
    );
    assert.deepEqual(releaseRequestProblems(request({ analysisIntervalSeconds: 1200 }, ['aws']), slow), []);
    assert.deepEqual(
      releaseRequestProblems(request({ telemetry: { stepSeconds: 15 }, pacing: 'fixed' }, ['aws']), slow),
      [],
      'a release may choose overlapping samples',
    );
    // gcp in the shared config scrapes every second: the default window is plenty.
    assert.deepEqual(releaseRequestProblems(request(undefined), config), []);
  });

  test('a judged metric without a query is refused when a cloud reads Prometheus, accepted otherwise', () => {
    const judge = {
      metrics: [
        { name: 'error_rate', direction: 'increase-is-bad' as const, allowedShift: 0.5 },
        { name: 'queue_depth', direction: 'increase-is-bad' as const, allowedShift: 0.5 },
      ],
    };
    const problems = releaseRequestProblems(request({ judge }), config);
    assert.equal(problems.length, 1);
    assert.equal(problems[0]!.field, '/canary/judge/metrics/1/name');
    assert.match(problems[0]!.message, /no PromQL query for 'queue_depth', which gcp read from Prometheus/);
    assert.deepEqual(
      releaseRequestProblems(
        request({ judge, telemetry: { queries: { queue_depth: 'max(queue{{{selector}}})' } } }),
        config,
      ),
      [],
    );
    assert.deepEqual(releaseRequestProblems(request({ judge }, ['aws']), config), []);
  });
});
