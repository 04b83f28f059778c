// The release manifest, version medrelease.dev/v1: everything the compliance gate judges a release
// by — the model and its artifact, the regulatory record (intended use, FDA authorisation and change
// control plan, HIPAA business associate agreements, GDPR subjects, DPIA, processors, transfers), the
// model card, training data and validation evidence, deployment targets and endpoint settings, the
// approvals, and the Kubernetes objects that will be applied. TypeBox gives the JSON Schema (published
// as schemas/release-manifest.v1.json and in the OpenAPI description) and the TypeScript type.
//
// The schema checks shape and types. Whether the content is compliant is the gate's business: a
// section the schema allows to be absent is missing evidence to the gate, which counts as a failure.
import { Type, type Static, type TSchema } from 'typebox';

export const MANIFEST_API_VERSION = 'medrelease.dev/v1';
export const MANIFEST_KIND = 'ModelRelease';

export const SHA256_DIGEST_PATTERN = '^sha256:[a-f0-9]{64}$';
const SEMVER_PATTERN =
  '^(0|[1-9]\\d*)\\.(0|[1-9]\\d*)\\.(0|[1-9]\\d*)(?:-[0-9A-Za-z.-]+)?(?:\\+[0-9A-Za-z.-]+)?$';

const Text = (description?: string, maxLength = 4000) =>
  Type.String({ minLength: 1, maxLength, ...(description ? { description } : {}) });
const Ref = (description: string) => Type.String({ minLength: 1, maxLength: 1000, description });
const DateTime = (description: string) => Type.String({ format: 'date-time', description });
const Digest = (description: string) =>
  Type.String({ pattern: SHA256_DIGEST_PATTERN, description: `${description} (sha256:<64 hex>)` });
const Strings = (description?: string) =>
  Type.Array(Type.String({ minLength: 1, maxLength: 500 }), description ? { description } : {});
const Opt = <T extends TSchema>(schema: T) => Type.Optional(schema);
const Obj = <P extends Record<string, TSchema>>(properties: P, description?: string) =>
  Type.Object(properties, { additionalProperties: false, ...(description ? { description } : {}) });

const Actor = Obj(
  {
    id: Text('Identity of the person or system, as its identity provider names it (e.g. oidc|u-123).', 300),
    type: Type.Union([Type.Literal('user'), Type.Literal('group'), Type.Literal('service-account')], {
      description: 'Only a user is an individual; groups and service accounts cannot act for a person.',
    }),
    idp: Opt(Text('Issuer URL of the identity provider.', 500)),
    name: Opt(Text('Printed name.', 300)),
  },
  'Who submitted the release.',
);

const Signature = Obj(
  {
    format: Type.Literal('sigstore-bundle'),
    bundle: Opt(
      Type.Unknown({
        description: 'The sigstore bundle itself (JSON). The gate verifies it; it never trusts a flag.',
      }),
    ),
    bundleRef: Opt(Ref('Where the bundle is kept (a path under the evidence directory) when not inline.')),
    identity: Opt(Text('The signer identity the bundle is expected to carry (informative).', 500)),
    issuer: Opt(Text('The OIDC issuer of the signer identity (informative).', 500)),
    rekorLogIndex: Opt(Type.Number({ minimum: 0 })),
    verified: Opt(
      Type.Boolean({
        description: 'Ignored: a self-declared verification is never evidence (accepted for compatibility).',
      }),
    ),
  },
  'The artifact signature. Give the bundle inline or by reference.',
);

const Artifact = Obj({
  image: Type.String({
    minLength: 3,
    maxLength: 512,
    description: 'The model-server image; the gate requires it pinned by digest (name:tag@sha256:…).',
  }),
  digest: Digest('Digest of the validated image'),
  builtBy: Opt(Text('The build identity (pipeline or person) that produced the artifact.', 300)),
  signature: Opt(Signature),
  sbom: Opt(
    Obj({
      format: Type.String({ minLength: 1, maxLength: 40, description: 'spdx or cyclonedx.' }),
      ref: Ref('Where the SBOM is kept.'),
      digest: Opt(Digest('Digest of the SBOM document')),
      subjectDigest: Opt(Digest('The image digest the SBOM describes')),
    }),
  ),
  vulnScan: Opt(
    Obj({
      tool: Text(undefined, 200),
      critical: Type.Integer({ minimum: 0 }),
      high: Type.Integer({ minimum: 0 }),
      knownExploited: Type.Integer({ minimum: 0 }),
      scannedAt: DateTime('When the scan ran.'),
      subjectDigest: Opt(Digest('The image digest that was scanned')),
      waivedCves: Opt(
        Type.Array(
          Obj({ cve: Type.String({ pattern: '^CVE-\\d{4}-\\d{4,}$' }), waiverId: Text(undefined, 200) }),
        ),
      ),
    }),
  ),
});

const Model = Obj({
  name: Type.String({ pattern: '^[a-z0-9][a-z0-9-]{1,62}$', description: 'Model name (DNS label).' }),
  version: Type.String({ pattern: SEMVER_PATTERN, description: 'Semantic version of this release.' }),
  previousVersion: Opt(Type.String({ pattern: SEMVER_PATTERN, description: 'The version it replaces.' })),
  artifact: Artifact,
  architectureDigest: Opt(Digest('Hash of the model graph and configuration, not of the weights')),
  inputs: Opt(
    Obj({
      modality: Opt(Text('DICOM modality code (e.g. DX) or the input kind of a non-imaging model.', 64)),
      bodyPart: Opt(Text(undefined, 64)),
      sopClassUids: Opt(Strings()),
      manufacturers: Opt(Strings()),
      features: Opt(Strings('Input features of a tabular model.')),
    }),
  ),
  outputs: Opt(
    Obj({
      type: Text('Output semantics, e.g. triage-notification, risk-score, diagnosis.', 100),
      labels: Strings(),
    }),
  ),
});

const MetricThresholds = Type.Record(Type.String(), Type.Number(), {
  description: 'Metric name → value.',
});
const Criteria = Type.Record(Type.String(), Obj({ min: Type.Number() }), {
  description: 'Metric name → minimum.',
});

const Modification = Obj({
  id: Text(undefined, 64),
  type: Text('e.g. retrain-same-architecture', 100),
  implementation: Type.Union([Type.Literal('manual'), Type.Literal('automatic')]),
  scope: Type.Union([Type.Literal('global'), Type.Literal('local')]),
  allowedSites: Opt(Strings()),
  allowedInputs: Opt(
    Obj({ modality: Opt(Strings()), manufacturers: Opt(Strings()), sopClassUids: Opt(Strings()) }),
  ),
  protocol: Opt(
    Obj({
      testSetIds: Strings(),
      minSampleSize: Type.Integer({ minimum: 1 }),
      statisticalMethod: Text(undefined, 300),
      acceptanceCriteria: Criteria,
      nonInferiorityMargin: Opt(MetricThresholds),
      subgroups: Opt(Type.Array(Obj({ attribute: Text(undefined, 64) }))),
      subgroupCriteria: Opt(Criteria),
      allowedRollout: Opt(Strings()),
    }),
  ),
});

const Fda = Obj({
  pathway: Type.Union([Type.Literal('510k'), Type.Literal('DeNovo'), Type.Literal('PMA')]),
  authorizationNumber: Text('K123456, DEN123456 or P123456[/S001].', 32),
  pccp: Opt(
    Obj({
      id: Text(undefined, 100),
      version: Type.String({ minLength: 1, maxLength: 32 }),
      baseline: Opt(
        Obj({
          intendedUse: Opt(Text()),
          indicationsForUse: Opt(Text()),
          inputModality: Opt(Text(undefined, 64)),
          bodyPart: Opt(Text(undefined, 64)),
          modelVersion: Opt(Type.String({ pattern: SEMVER_PATTERN })),
          architectureDigest: Opt(Digest('Architecture digest of the cleared model')),
          metrics: Opt(MetricThresholds),
        }),
      ),
      authorizedModifications: Opt(Type.Array(Modification)),
    }),
  ),
  change: Opt(
    Obj({
      modificationIds: Strings('Ids of the PCCP modifications this release implements.'),
      logEntryId: Opt(Text(undefined, 100)),
      impactAssessmentRef: Opt(Ref('The impact assessment document.')),
      impactAssessment: Opt(
        Obj({
          modificationIds: Strings(),
          cumulativeReviewed: Type.Boolean(),
          risksReviewedAt: Opt(DateTime('When the risk file was reviewed.')),
          riskFileVersion: Opt(Type.String({ minLength: 1, maxLength: 32 })),
          approvedBy: Opt(Text('approverId of the regulatory-qa approval of the assessment.', 300)),
        }),
      ),
      labeling: Opt(
        Obj({
          version: Type.String({ minLength: 1, maxLength: 64 }),
          changed: Type.Boolean(),
          releaseNotesRef: Opt(Ref('Release notes.')),
          userCommunicationRef: Opt(Ref('How users are told.')),
        }),
      ),
    }),
  ),
});

const Regulatory = Obj({
  intendedUse: Opt(Text('Intended use, compared with the cleared baseline.')),
  indicationsForUse: Opt(Text()),
  fda: Opt(Fda),
  hipaa: Opt(
    Obj({
      baa: Type.Array(
        Obj({ party: Text(undefined, 100), signed: Type.Boolean(), ref: Opt(Ref('The BAA.')) }),
      ),
    }),
  ),
  gdpr: Opt(
    Obj({
      euDataSubjects: Type.Boolean({
        description: 'Whether personal data of people in the EEA is processed.',
      }),
      dpia: Opt(
        Obj({
          ref: Ref('The DPIA.'),
          approvedAt: DateTime('When the DPIA was approved.'),
          coversModelVersions: Text('A semver range, e.g. 2.x or >=2.0.0 <3.0.0.', 100),
          targets: Strings('Regions the DPIA covers.'),
        }),
      ),
      ropaRef: Opt(Ref('Record of processing activities.')),
      processors: Opt(
        Type.Array(
          Obj({ name: Text(undefined, 100), dpaRef: Opt(Ref('The Art. 28 contract.')), regions: Strings() }),
        ),
      ),
      transfers: Opt(
        Type.Array(
          Obj({
            toCountry: Type.String({ pattern: '^[A-Z]{2}$', description: 'ISO 3166-1 alpha-2.' }),
            mechanism: Text('adequacy:<decision>, SCC-2021/914, BCR or DPF.', 200),
            ref: Opt(Ref('The transfer instrument.')),
            tiaRef: Opt(Ref('Transfer impact assessment.')),
          }),
        ),
      ),
    }),
  ),
});

const MetricWithCi = Obj({
  value: Type.Number(),
  ci95: Opt(Type.Tuple([Type.Number(), Type.Number()])),
});

const Dataset = Obj({
  datasetId: Text(undefined, 100),
  digest: Opt(Digest('Digest of the frozen dataset')),
  sites: Opt(Strings()),
  period: Opt(Text(undefined, 100)),
  size: Opt(Type.Integer({ minimum: 0 })),
  euSourced: Opt(Type.Boolean()),
  hipaaBasis: Opt(Text(undefined, 64)),
  gdprBasis: Opt(Obj({ art6: Opt(Text(undefined, 200)), art9: Opt(Text(undefined, 200)) })),
  deidentification: Opt(
    Obj({ method: Text(undefined, 100), ref: Opt(Ref('The de-identification record.')) }),
  ),
});

const TestSet = Obj({
  id: Text(undefined, 100),
  digest: Opt(Digest('Digest of the frozen test set')),
  n: Type.Integer({ minimum: 0 }),
  sites: Opt(Strings()),
  sequestered: Opt(Type.Boolean()),
  overlap: Opt(
    Obj({
      patients: Type.Integer({ minimum: 0 }),
      studies: Type.Integer({ minimum: 0 }),
      sitesSharedWithTraining: Opt(Strings()),
      attestedBy: Opt(Text('The signed dedupe job that computed the overlap.', 300)),
    }),
  ),
  euSourced: Opt(Type.Boolean()),
  hipaaBasis: Opt(Text(undefined, 64)),
  gdprBasis: Opt(Obj({ art6: Opt(Text(undefined, 200)), art9: Opt(Text(undefined, 200)) })),
  deidentification: Opt(
    Obj({ method: Text(undefined, 100), ref: Opt(Ref('The de-identification record.')) }),
  ),
});

const Validation = Obj({
  referenceStandard: Opt(Text('How the ground truth was established.')),
  protocolVersion: Opt(Type.String({ minLength: 1, maxLength: 32 })),
  statisticalMethod: Opt(Text(undefined, 300)),
  artifactDigest: Opt(Digest('The image digest the validation ran on')),
  testSets: Opt(Type.Array(TestSet)),
  metrics: Opt(Type.Record(Type.String(), MetricWithCi)),
  subgroups: Opt(
    Type.Array(
      Obj({
        attribute: Text(undefined, 64),
        group: Text(undefined, 100),
        n: Type.Integer({ minimum: 0 }),
        metrics: Type.Record(Type.String(), MetricWithCi),
      }),
    ),
  ),
});

const ClusterProfile = Obj({
  auditLogging: Opt(Obj({ enabled: Type.Boolean(), source: Opt(Text(undefined, 200)) })),
  secretsEncryption: Opt(Obj({ kmsKeyRef: Type.String({ maxLength: 500 }) })),
  meshMtls: Opt(Type.Union([Type.Literal('strict'), Type.Literal('permissive'), Type.Literal('none')])),
  podSecurityAdmission: Opt(
    Type.Union([Type.Literal('restricted'), Type.Literal('baseline'), Type.Literal('privileged')]),
  ),
  defaultStorageClass: Opt(Text(undefined, 200)),
  nodeDiskEncryption: Opt(Type.Boolean()),
});

const Target = Obj({
  cloud: Type.String({ pattern: '^[a-z][a-z0-9-]{1,30}$', description: 'A configured cloud name.' }),
  region: Text(undefined, 64),
  clusterId: Opt(Text(undefined, 200)),
  site: Opt(Text('The clinical site served (for local modifications).', 200)),
  clusterProfile: Opt(ClusterProfile),
});

const Sink = Obj({
  type: Text('logs, metrics, traces, backup, audit…', 40),
  vendor: Text(undefined, 100),
  region: Text(undefined, 64),
});

const Deployment = Obj({
  targets: Type.Array(Target, { minItems: 1, maxItems: 20 }),
  namespace: Opt(Type.String({ pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$', maxLength: 63 })),
  endpoint: Opt(
    Obj({
      public: Type.Boolean(),
      humanFacing: Type.Boolean(),
      auth: Opt(
        Obj({
          type: Text('oidc or mtls', 20),
          issuer: Opt(Text(undefined, 500)),
          audience: Opt(Type.String({ maxLength: 500 })),
          accessTokenTtlSeconds: Opt(Type.Integer({ minimum: 0 })),
          idleTimeoutSeconds: Opt(Type.Integer({ minimum: 0 })),
          refreshTokenMaxLifetimeSeconds: Opt(Type.Integer({ minimum: 0 })),
          mfaForHumans: Opt(Type.Boolean()),
        }),
      ),
      tls: Opt(Obj({ minVersion: Type.String({ maxLength: 8 }) })),
    }),
  ),
  storage: Opt(
    Type.Array(
      Obj({
        purpose: Text('inference-inputs, inference-outputs, cache, model-artifacts…', 64),
        provider: Opt(Text('Who stores it (cloud or vendor); default: the target cloud.', 100)),
        encryption: Text('kms-cmek, kms-provider or none.', 40),
        kmsKeyRef: Opt(Type.String({ maxLength: 500 })),
        region: Text(undefined, 64),
        lifecycleDays: Opt(Type.Integer({ minimum: 0, description: 'The bucket lifecycle / TTL rule.' })),
      }),
    ),
  ),
  logging: Opt(
    Obj({
      payloadLogging: Type.Boolean(),
      phiRedaction: Type.Boolean(),
      level: Text(undefined, 20),
      auditEvents: Opt(
        Obj({
          enabled: Type.Boolean(),
          fields: Strings(),
          sink: Opt(
            Obj({
              type: Text(undefined, 40),
              vendor: Opt(Text(undefined, 100)),
              region: Text(undefined, 64),
              immutable: Type.Boolean(),
            }),
          ),
        }),
      ),
      sinks: Opt(Type.Array(Sink)),
    }),
  ),
  backups: Opt(Type.Array(Obj({ vendor: Text(undefined, 100), region: Text(undefined, 64) }))),
  dataRetention: Opt(
    Obj({
      inferenceInputsDays: Type.Unknown({ description: 'Whole days (an integer); "indefinite" fails.' }),
      inferenceOutputsDays: Type.Unknown({ description: 'Whole days (an integer); "indefinite" fails.' }),
      releaseRecordsYears: Type.Number({ minimum: 0 }),
      evidenceStore: Opt(Obj({ ref: Opt(Ref('The evidence store.')), retentionLock: Type.Boolean() })),
    }),
  ),
  monitoring: Opt(
    Obj({
      performance: Obj({
        enabled: Type.Boolean(),
        metrics: Strings(),
        driftThresholds: Type.Record(Type.String(), Type.Number()),
        cadence: Type.String({
          pattern: '^P(\\d+D|\\d+W)$',
          description: 'ISO 8601 period in days or weeks.',
        }),
        owner: Text('A named individual.', 300),
      }),
    }),
  ),
  rollout: Opt(
    Obj({
      strategy: Text('canary, shadow…', 40),
      rollback: Opt(Obj({ previousDigest: Opt(Digest('Digest of the previous release')) })),
    }),
  ),
  needsKubeApi: Opt(Type.Boolean()),
});

const Approval = Obj({
  approverId: Text(undefined, 300),
  type: Opt(Type.Union([Type.Literal('user'), Type.Literal('group'), Type.Literal('service-account')])),
  idp: Opt(Text(undefined, 500)),
  printedName: Opt(Text(undefined, 300)),
  role: Text('regulatory-qa, clinical, security…', 64),
  meaning: Text('review or approval (21 CFR 11.50).', 64),
  signedAt: DateTime('When the approval was signed.'),
  signedPayloadDigest: Opt(Digest('sha256 of the canonical JSON of the manifest without its approvals')),
  signatureRef: Opt(Ref('The electronic signature record.')),
});

const KubernetesObject = Type.Object(
  {
    apiVersion: Type.String({ minLength: 1 }),
    kind: Type.String({ minLength: 1 }),
    metadata: Type.Object({ name: Type.Optional(Type.String()) }, { additionalProperties: true }),
  },
  { additionalProperties: true, description: 'A Kubernetes object.' },
);

export const ReleaseManifestSchema = Type.Object(
  {
    apiVersion: Type.Literal(MANIFEST_API_VERSION),
    kind: Type.Literal(MANIFEST_KIND),
    metadata: Obj({
      releaseId: Opt(Type.String({ pattern: '^[a-z0-9][a-z0-9-]{2,62}$' })),
      createdAt: DateTime('When the manifest was assembled.'),
      submittedBy: Actor,
      labels: Opt(Type.Record(Type.String(), Type.String({ maxLength: 200 }))),
    }),
    model: Model,
    regulatory: Opt(Regulatory),
    modelCard: Opt(
      Type.Record(Type.String(), Type.Unknown(), {
        description: 'The model card (GMLP principle 9); the gate checks its completeness.',
      }),
    ),
    trainingData: Opt(Type.Array(Dataset)),
    training: Opt(
      Obj({
        runId: Text(undefined, 200),
        config: Opt(Obj({ digest: Digest('Digest of the training configuration') })),
        architecture: Opt(Text(undefined, 300)),
      }),
    ),
    validation: Opt(Validation),
    deployment: Deployment,
    approvals: Opt(Type.Array(Approval, { maxItems: 20 })),
    kubernetesManifests: Opt(
      Type.Union([
        Type.Array(KubernetesObject, { maxItems: 200 }),
        Type.String({ maxLength: 1_000_000, description: 'Multi-document YAML.' }),
      ]),
    ),
  },
  {
    additionalProperties: false,
    $id: 'https://medrelease.dev/schemas/release-manifest.v1.json',
    title: 'medrelease release manifest v1',
    description:
      'Everything the compliance gate judges a model release by. See docs/compliance.md and examples/manifests/.',
  },
);

export type ReleaseManifest = Static<typeof ReleaseManifestSchema>;
/** The manifest after parsing: kubernetesManifests is always the list of objects. */
export type NormalizedManifest = Omit<ReleaseManifest, 'kubernetesManifests'> & {
  kubernetesManifests: Record<string, unknown>[];
};
