// Violation catalog of the HIPAA pack, part A (policies/hipaa.yaml): for each control, injected
// violations (the control must not pass) and near misses (suspicious but compliant: it must pass, and
// so must the whole manifest). Every case edits a fresh copy of examples/manifests/compliant.yaml.
import type { NormalizedManifest } from '../../../domain/manifest.js';
import {
  clusterProfile,
  dig,
  digList,
  k8s,
  MODEL_LABELS,
  modelContainer,
  NAMESPACE,
  nearMiss,
  type Obj,
  removeK8s,
  violation,
  volumes,
} from './helpers.js';
import type { ComplianceCase } from './types.js';

const HOST = 'cxr-triage.example-hospital.org';

export const NO_ANON = 'HIPAA-164.312(a)(1)-NO-ANON-ENDPOINT';
export const UNIQUE_ID = 'HIPAA-164.312(a)(2)(i)-UNIQUE-USER-ID';
export const SOD = 'NIST-AC-5+21CFR11-SOD-APPROVALS';
export const AUTO_LOGOFF = 'HIPAA-164.312(a)(2)(iii)-AUTO-LOGOFF';
export const ENC_AT_REST = 'HIPAA-164.312(a)(2)(iv)-ENC-AT-REST';
export const TLS = 'HIPAA-164.312(e)(1)-TLS-IN-TRANSIT';
export const MTLS = 'HIPAA-164.312(e)(2)(i)-MTLS-IN-CLUSTER';

const endpoint = (manifest: NormalizedManifest) => manifest.deployment.endpoint!;
const auth = (manifest: NormalizedManifest) => endpoint(manifest).auth!;
const approval = (manifest: NormalizedManifest, index: number) => manifest.approvals![index]!;

/** An Ingress to the model's Service that complies with every control (TLS, HTTPS only, approved class). */
function modelIngress(name = 'chest-xray-triage'): Obj {
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'Ingress',
    metadata: {
      name,
      namespace: NAMESPACE,
      annotations: { 'nginx.ingress.kubernetes.io/force-ssl-redirect': 'true' },
    },
    spec: {
      ingressClassName: 'nginx-internal',
      tls: [{ hosts: [HOST], secretName: 'cxr-triage-ingress-tls' }],
      rules: [
        {
          host: HOST,
          http: {
            paths: [
              {
                path: '/',
                pathType: 'Prefix',
                backend: { service: { name: 'chest-xray-triage', port: { number: 80 } } },
              },
            ],
          },
        },
      ],
    },
  };
}

/** The model's Ingress with the Istio authentication removed, so only its annotations can protect it. */
function ingressWithoutIstio(manifest: NormalizedManifest, annotations: Record<string, string>): void {
  removeK8s(manifest, 'RequestAuthentication');
  const ingress = modelIngress();
  Object.assign(dig(ingress, 'metadata', 'annotations'), annotations);
  manifest.kubernetesManifests.push(ingress);
}

function istioObject(kind: string, name: string, spec: Obj, namespace = NAMESPACE): Obj {
  return { apiVersion: 'security.istio.io/v1', kind, metadata: { name, namespace }, spec };
}

function roleBinding(kind: 'RoleBinding' | 'ClusterRoleBinding', subjects: Obj[]): Obj {
  return {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind,
    metadata: {
      name: 'chest-xray-triage-reader',
      ...(kind === 'RoleBinding' ? { namespace: NAMESPACE } : {}),
    },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'view' },
    subjects,
  };
}

function service(name: string, type?: string): Obj {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, namespace: NAMESPACE },
    spec: {
      ...(type ? { type } : {}),
      selector: MODEL_LABELS,
      ports: [{ name: 'http', port: 80, targetPort: 'http' }],
    },
  };
}

function pvc(name: string, storageClassName?: string): Obj {
  return {
    apiVersion: 'v1',
    kind: 'PersistentVolumeClaim',
    metadata: { name, namespace: NAMESPACE },
    spec: {
      accessModes: ['ReadWriteOnce'],
      ...(storageClassName !== undefined ? { storageClassName } : {}),
      resources: { requests: { storage: '20Gi' } },
    },
  };
}

/** Adds a volume and its mount to the model container. */
function mountVolume(manifest: NormalizedManifest, volume: Obj, mountPath: string): void {
  volumes(manifest).push(volume);
  digList(modelContainer(manifest), 'volumeMounts').push({ name: volume.name, mountPath });
}

/** Points the model's scratch emptyDir (mounted at /tmp) at another path. */
function moveScratch(manifest: NormalizedManifest, mountPath: string, medium?: string): void {
  const mount = digList(modelContainer(manifest), 'volumeMounts').find((entry) => entry.name === 'scratch')!;
  mount.mountPath = mountPath;
  if (medium !== undefined) dig(volumes(manifest)[0], 'emptyDir').medium = medium;
}

const gateway = (manifest: NormalizedManifest) => k8s(manifest, 'Gateway');
const listeners = (manifest: NormalizedManifest) => digList(gateway(manifest), 'spec', 'listeners');
const parentRef = (manifest: NormalizedManifest) =>
  digList(k8s(manifest, 'HTTPRoute'), 'spec', 'parentRefs')[0]!;
const HTTP_LISTENER = { name: 'http', protocol: 'HTTP', port: 80, hostname: HOST };

const peerAuthentication = (manifest: NormalizedManifest) => k8s(manifest, 'PeerAuthentication');
const mtls = (manifest: NormalizedManifest) => dig(peerAuthentication(manifest), 'spec', 'mtls');

const noAnonEndpoint: ComplianceCase[] = [
  violation(NO_ANON, 'endpoint auth type none', (m) => {
    auth(m).type = 'none';
  }),
  violation(NO_ANON, 'endpoint auth by static API key', (m) => {
    auth(m).type = 'api-key';
  }),
  violation(NO_ANON, 'token issuer not trusted', (m) => {
    auth(m).issuer = 'https://login.partner-clinic.example';
  }),
  violation(NO_ANON, 'token issuer missing', (m) => {
    delete auth(m).issuer;
  }),
  violation(NO_ANON, 'empty audience', (m) => {
    auth(m).audience = '';
  }),
  violation(NO_ANON, 'endpoint auth section missing', (m) => {
    delete endpoint(m).auth;
  }),
  violation(NO_ANON, 'model Service of type LoadBalancer', (m) => {
    dig(k8s(m, 'Service'), 'spec').type = 'LoadBalancer';
  }),
  violation(NO_ANON, 'second Service of type NodePort', (m) => {
    m.kubernetesManifests.push(service('chest-xray-triage-debug', 'NodePort'));
  }),
  violation(NO_ANON, 'Gateway of an unapproved class', (m) => {
    dig(gateway(m), 'spec').gatewayClassName = 'gke-l7-global-external-managed';
  }),
  violation(NO_ANON, 'Ingress of an unapproved class', (m) => {
    const ingress = modelIngress();
    dig(ingress, 'spec').ingressClassName = 'nginx-public';
    m.kubernetesManifests.push(ingress);
  }),
  violation(NO_ANON, 'Ingress of an unapproved class set by the legacy annotation', (m) => {
    const ingress = modelIngress();
    delete dig(ingress, 'spec').ingressClassName;
    dig(ingress, 'metadata', 'annotations')['kubernetes.io/ingress.class'] = 'nginx-public';
    m.kubernetesManifests.push(ingress);
  }),
  violation(NO_ANON, 'Ingress with no class', (m) => {
    const ingress = modelIngress();
    delete dig(ingress, 'spec').ingressClassName;
    m.kubernetesManifests.push(ingress);
  }),
  violation(NO_ANON, 'RequestAuthentication removed', (m) => {
    removeK8s(m, 'RequestAuthentication');
  }),
  violation(NO_ANON, 'AuthorizationPolicy removed', (m) => {
    removeK8s(m, 'AuthorizationPolicy');
  }),
  violation(NO_ANON, 'AuthorizationPolicy selects other pods', (m) => {
    dig(k8s(m, 'AuthorizationPolicy'), 'spec', 'selector').matchLabels = {
      'app.kubernetes.io/name': 'dicom-router',
    };
  }),
  violation(NO_ANON, 'RequestAuthentication selector needs a label the model pods lack', (m) => {
    dig(k8s(m, 'RequestAuthentication'), 'spec', 'selector', 'matchLabels').tier = 'inference';
  }),
  violation(NO_ANON, 'RequestAuthentication trusts an unknown issuer', (m) => {
    digList(k8s(m, 'RequestAuthentication'), 'spec', 'jwtRules')[0]!.issuer =
      'https://accounts.example-saas.com';
  }),
  violation(NO_ANON, 'RequestAuthentication in another namespace', (m) => {
    dig(k8s(m, 'RequestAuthentication'), 'metadata').namespace = 'radiology-tools';
  }),
  violation(NO_ANON, 'extra ALLOW policy with an empty rule lets everyone in', (m) => {
    m.kubernetesManifests.push(
      istioObject('AuthorizationPolicy', 'chest-xray-triage-allow-all', {
        selector: { matchLabels: MODEL_LABELS },
        action: 'ALLOW',
        rules: [{}],
      }),
    );
  }),
  violation(NO_ANON, 'AuthorizationPolicy allows a namespace instead of a principal', (m) => {
    digList(k8s(m, 'AuthorizationPolicy'), 'spec', 'rules')[0]!.from = [
      { source: { namespaces: ['istio-ingress'] } },
    ];
  }),
  violation(NO_ANON, 'HTTPRoute attached to a Gateway outside the release', (m) => {
    parentRef(m).name = 'shared-public-gateway';
  }),
  violation(NO_ANON, 'Ingress without auth annotation once Istio auth is gone', (m) => {
    ingressWithoutIstio(m, {});
  }),
  violation(NO_ANON, 'Ingress client-certificate verification only optional', (m) => {
    ingressWithoutIstio(m, { 'nginx.ingress.kubernetes.io/auth-tls-verify-client': 'optional' });
  }),
  violation(NO_ANON, 'RoleBinding to system:anonymous', (m) => {
    m.kubernetesManifests.push(roleBinding('RoleBinding', [{ kind: 'User', name: 'system:anonymous' }]));
  }),
  violation(NO_ANON, 'ClusterRoleBinding whose second subject is system:unauthenticated', (m) => {
    m.kubernetesManifests.push(
      roleBinding('ClusterRoleBinding', [
        { kind: 'ServiceAccount', name: 'chest-xray-triage', namespace: NAMESPACE },
        { kind: 'Group', apiGroup: 'rbac.authorization.k8s.io', name: 'system:unauthenticated' },
      ]),
    );
  }),
  nearMiss(NO_ANON, 'AuthorizationPolicy in DENY form rejecting requests without a principal', (m) => {
    const spec = dig(k8s(m, 'AuthorizationPolicy'), 'spec');
    spec.action = 'DENY';
    spec.rules = [{ from: [{ source: { notRequestPrincipals: ['*'] } }] }];
  }),
  nearMiss(NO_ANON, 'RoleBinding for a service account named like anonymous', (m) => {
    m.kubernetesManifests.push(
      roleBinding('RoleBinding', [
        { kind: 'ServiceAccount', name: 'dicom-anonymizer', namespace: NAMESPACE },
      ]),
    );
  }),
  nearMiss(NO_ANON, 'Ingress of an approved class with no annotation, protected by Istio', (m) => {
    m.kubernetesManifests.push(modelIngress());
  }),
  nearMiss(NO_ANON, 'second ClusterIP Service for the model', (m) => {
    m.kubernetesManifests.push(service('chest-xray-triage-internal', 'ClusterIP'));
  }),
  nearMiss(NO_ANON, 'mutual-TLS endpoint auth with a trusted issuer', (m) => {
    auth(m).type = 'mtls';
  }),
];

const uniqueUserId: ComplianceCase[] = [
  violation(UNIQUE_ID, 'submitter is a group', (m) => {
    m.metadata.submittedBy.type = 'group';
  }),
  violation(UNIQUE_ID, 'submitter is a service account', (m) => {
    m.metadata.submittedBy.type = 'service-account';
  }),
  violation(UNIQUE_ID, 'submitter uses a shared account', (m) => {
    m.metadata.submittedBy.id = 'oidc|radiology-shared';
  }),
  violation(UNIQUE_ID, 'submitter uses a shared account in other case', (m) => {
    m.metadata.submittedBy.id = 'OIDC|Admin';
  }),
  violation(UNIQUE_ID, 'submitter id blank', (m) => {
    m.metadata.submittedBy.id = '  ';
  }),
  violation(UNIQUE_ID, 'submitter is a Kubernetes service account', (m) => {
    m.metadata.submittedBy.id = 'system:serviceaccount:ci:deployer';
  }),
  violation(UNIQUE_ID, 'submitter is an svc- account behind the IdP prefix', (m) => {
    m.metadata.submittedBy.id = 'oidc|svc-release';
  }),
  violation(UNIQUE_ID, 'submitter from an untrusted identity provider', (m) => {
    m.metadata.submittedBy.idp = 'https://accounts.google.com';
  }),
  violation(UNIQUE_ID, 'submitter identity provider missing', (m) => {
    delete m.metadata.submittedBy.idp;
  }),
  violation(UNIQUE_ID, 'second approver is a service account', (m) => {
    approval(m, 1).type = 'service-account';
  }),
  violation(UNIQUE_ID, 'first approver from an untrusted identity provider', (m) => {
    approval(m, 0).idp = 'https://login.partner-clinic.example';
  }),
  violation(UNIQUE_ID, 'approver type missing', (m) => {
    delete approval(m, 1).type;
  }),
  violation(UNIQUE_ID, 'approver identity provider missing', (m) => {
    delete approval(m, 0).idp;
  }),
  violation(UNIQUE_ID, 'approver is a serviceaccount: identity', (m) => {
    approval(m, 1).approverId = 'serviceaccount:radiology-ai:approval-bot';
  }),
  violation(UNIQUE_ID, 'approver uses a shared account', (m) => {
    approval(m, 1).approverId = 'oidc|qa-team';
  }),
  violation(UNIQUE_ID, 'approver is a group', (m) => {
    approval(m, 1).type = 'group';
  }),
  nearMiss(UNIQUE_ID, 'personal id containing svc after the prefix', (m) => {
    m.metadata.submittedBy.id = 'oidc|u-svc-1001';
  }),
  nearMiss(UNIQUE_ID, 'approver id starting with system but no colon', (m) => {
    approval(m, 1).approverId = 'oidc|systems-radiology-u-3003';
  }),
  nearMiss(UNIQUE_ID, 'approver id mentions a shared account as a substring', (m) => {
    approval(m, 1).approverId = 'oidc|u-3003-qa-team';
  }),
];

const THIRD_APPROVAL = {
  approverId: 'oidc|u-4004',
  type: 'user' as const,
  idp: 'https://login.example-hospital.org',
  printedName: 'Mira Chen',
  role: 'security',
  meaning: 'review',
  signedAt: '2026-11-27T12:05:00Z',
  signatureRef: 'esig://approvals/2026-11-27/0003',
};

const sodApprovals: ComplianceCase[] = [
  violation(SOD, 'only one approval', (m) => {
    m.approvals = m.approvals!.slice(0, 1);
  }),
  violation(SOD, 'approvals missing', (m) => {
    delete m.approvals;
  }),
  violation(SOD, 'same approver signs twice', (m) => {
    approval(m, 1).approverId = approval(m, 0).approverId;
  }),
  violation(SOD, 'third approval repeats the first approver', (m) => {
    m.approvals!.push({ ...THIRD_APPROVAL, approverId: 'oidc|u-2002' });
  }),
  violation(SOD, 'submitter approves their own release', (m) => {
    approval(m, 1).approverId = m.metadata.submittedBy.id;
  }),
  violation(SOD, 'builder identity approves', (m) => {
    approval(m, 0).approverId = m.model.artifact.builtBy!;
  }),
  violation(SOD, 'no clinical approval', (m) => {
    approval(m, 1).role = 'security';
  }),
  violation(SOD, 'no regulatory-qa approval', (m) => {
    approval(m, 0).role = 'engineering';
  }),
  violation(SOD, 'printed name missing', (m) => {
    delete approval(m, 1).printedName;
  }),
  violation(SOD, 'printed name blank', (m) => {
    approval(m, 0).printedName = '   ';
  }),
  violation(SOD, 'signed before the manifest was created', (m) => {
    approval(m, 0).signedAt = '2026-11-27T08:59:59Z';
  }),
  violation(SOD, 'signed in the future', (m) => {
    approval(m, 1).signedAt = '2026-11-28T12:00:01Z';
  }),
  violation(SOD, 'meaning not review or approval', (m) => {
    approval(m, 1).meaning = 'authorship';
  }),
  violation(
    SOD,
    'manifest changed after signing',
    (m) => {
      m.metadata.labels = { team: 'radiology-ai' };
    },
    true,
  ),
  violation(
    SOD,
    'second approval signed another manifest',
    (m) => {
      approval(m, 1).signedPayloadDigest = `sha256:${'0'.repeat(64)}`;
    },
    true,
  ),
  violation(
    SOD,
    'payload digest missing',
    (m) => {
      delete approval(m, 0).signedPayloadDigest;
    },
    true,
  ),
  violation(SOD, 'SBOM changed since the previous release without a security approval', (_m, context) => {
    context.history.previous!.sbomDigest = `sha256:${'ab'.repeat(32)}`;
  }),
  violation(
    SOD,
    'Kubernetes objects changed since the previous release without a security approval',
    (_m, context) => {
      context.history.previous!.infraDigest = `sha256:${'cd'.repeat(32)}`;
    },
  ),
  nearMiss(SOD, 'SBOM changed since the previous release, approved by security', (m, context) => {
    context.history.previous!.sbomDigest = `sha256:${'ab'.repeat(32)}`;
    m.approvals!.push({ ...THIRD_APPROVAL });
  }),
  nearMiss(
    SOD,
    'Kubernetes objects changed since the previous release, approved by security',
    (m, context) => {
      context.history.previous!.infraDigest = `sha256:${'cd'.repeat(32)}`;
      m.approvals!.push({ ...THIRD_APPROVAL });
    },
  ),
  nearMiss(SOD, 'third distinct security reviewer with meaning review', (m) => {
    m.approvals!.push({ ...THIRD_APPROVAL });
  }),
  nearMiss(SOD, 'approval signed exactly at creation', (m) => {
    approval(m, 0).signedAt = m.metadata.createdAt;
  }),
  nearMiss(SOD, 'approvals in reverse order', (m) => {
    m.approvals!.reverse();
  }),
];

const autoLogoff: ComplianceCase[] = [
  violation(AUTO_LOGOFF, 'access tokens live two hours', (m) => {
    auth(m).accessTokenTtlSeconds = 7200;
  }),
  violation(AUTO_LOGOFF, 'access tokens one second over the limit', (m) => {
    auth(m).accessTokenTtlSeconds = 3601;
  }),
  violation(AUTO_LOGOFF, 'access tokens never expire (ttl 0)', (m) => {
    auth(m).accessTokenTtlSeconds = 0;
  }),
  violation(AUTO_LOGOFF, 'access token ttl missing', (m) => {
    delete auth(m).accessTokenTtlSeconds;
  }),
  violation(AUTO_LOGOFF, 'human-facing with a 30-minute idle timeout', (m) => {
    endpoint(m).humanFacing = true;
    auth(m).idleTimeoutSeconds = 1800;
  }),
  violation(AUTO_LOGOFF, 'human-facing idle timeout one second over', (m) => {
    endpoint(m).humanFacing = true;
    auth(m).idleTimeoutSeconds = 901;
  }),
  violation(AUTO_LOGOFF, 'human-facing with no idle timeout', (m) => {
    endpoint(m).humanFacing = true;
    delete auth(m).idleTimeoutSeconds;
  }),
  violation(AUTO_LOGOFF, 'human-facing with idle timeout 0 (never)', (m) => {
    endpoint(m).humanFacing = true;
    auth(m).idleTimeoutSeconds = 0;
  }),
  violation(AUTO_LOGOFF, 'human-facing without a refresh-token lifetime', (m) => {
    endpoint(m).humanFacing = true;
    delete auth(m).refreshTokenMaxLifetimeSeconds;
  }),
  violation(AUTO_LOGOFF, 'human-facing with refresh-token lifetime 0', (m) => {
    endpoint(m).humanFacing = true;
    auth(m).refreshTokenMaxLifetimeSeconds = 0;
  }),
  violation(AUTO_LOGOFF, 'mTLS endpoint that still issues day-long tokens', (m) => {
    auth(m).type = 'mtls';
    auth(m).accessTokenTtlSeconds = 86400;
  }),
  violation(AUTO_LOGOFF, 'human-facing mTLS endpoint without token limits', (m) => {
    auth(m).type = 'mtls';
    endpoint(m).humanFacing = true;
    delete auth(m).accessTokenTtlSeconds;
  }),
  nearMiss(AUTO_LOGOFF, 'access tokens live exactly the maximum', (m) => {
    auth(m).accessTokenTtlSeconds = 3600;
  }),
  nearMiss(AUTO_LOGOFF, 'human-facing with idle timeout exactly the maximum', (m) => {
    endpoint(m).humanFacing = true;
    auth(m).idleTimeoutSeconds = 900;
  }),
  nearMiss(AUTO_LOGOFF, 'machine-only endpoint with a long idle timeout', (m) => {
    auth(m).idleTimeoutSeconds = 3600;
  }),
];

const encAtRest: ComplianceCase[] = [
  violation(ENC_AT_REST, 'PVC on an unencrypted storage class', (m) => {
    m.kubernetesManifests.push(pvc('dicom-cache', 'gp2'));
  }),
  violation(ENC_AT_REST, 'PVC with an empty storage class', (m) => {
    m.kubernetesManifests.push(pvc('dicom-cache', ''));
  }),
  violation(ENC_AT_REST, 'PVC with no class and no known cluster default', (m) => {
    m.kubernetesManifests.push(pvc('dicom-cache'));
  }),
  violation(ENC_AT_REST, 'PVC with no class where one cluster default is unencrypted', (m) => {
    clusterProfile(m, 0).defaultStorageClass = 'ebs-gp3-kms';
    clusterProfile(m, 1).defaultStorageClass = 'default';
    clusterProfile(m, 2).defaultStorageClass = 'pd-balanced-cmek';
    m.kubernetesManifests.push(pvc('dicom-cache'));
  }),
  violation(ENC_AT_REST, 'second PVC unencrypted after an encrypted one', (m) => {
    m.kubernetesManifests.push(pvc('results', 'ebs-gp3-kms'), pvc('dicom-cache', 'standard'));
  }),
  violation(ENC_AT_REST, 'generic ephemeral volume on an unencrypted class', (m) => {
    mountVolume(
      m,
      {
        name: 'work',
        ephemeral: {
          volumeClaimTemplate: {
            spec: {
              accessModes: ['ReadWriteOnce'],
              storageClassName: 'standard',
              resources: { requests: { storage: '10Gi' } },
            },
          },
        },
      },
      '/work',
    );
  }),
  violation(ENC_AT_REST, 'third cluster without a Secrets KMS key', (m) => {
    clusterProfile(m, 2).secretsEncryption = { kmsKeyRef: '' };
  }),
  violation(ENC_AT_REST, 'first cluster Secrets encryption missing', (m) => {
    delete clusterProfile(m, 0).secretsEncryption;
  }),
  violation(ENC_AT_REST, 'output bucket not encrypted', (m) => {
    m.deployment.storage![1]!.encryption = 'none';
  }),
  violation(ENC_AT_REST, 'input bucket with provider-default SSE instead of KMS', (m) => {
    m.deployment.storage![0]!.encryption = 'sse-s3';
  }),
  violation(ENC_AT_REST, 'output bucket KMS key missing', (m) => {
    delete m.deployment.storage![1]!.kmsKeyRef;
  }),
  violation(ENC_AT_REST, 'storage locations not declared', (m) => {
    delete m.deployment.storage;
  }),
  violation(ENC_AT_REST, 'disk scratch volume mounted at a PHI cache path', (m) => {
    moveScratch(m, '/cache');
  }),
  violation(ENC_AT_REST, 'disk scratch volume mounted above a PHI cache path', (m) => {
    moveScratch(m, '/var/cache');
  }),
  violation(ENC_AT_REST, 'disk scratch volume mounted below a PHI cache path', (m) => {
    moveScratch(m, '/data/inputs', '');
  }),
  violation(ENC_AT_REST, 'second cluster without node disk encryption', (m) => {
    clusterProfile(m, 1).nodeDiskEncryption = false;
  }),
  violation(ENC_AT_REST, 'node disk encryption not asserted', (m) => {
    delete clusterProfile(m, 2).nodeDiskEncryption;
  }),
  nearMiss(ENC_AT_REST, 'in-memory scratch volume at a PHI cache path', (m) => {
    mountVolume(m, { name: 'dicom-cache', emptyDir: { medium: 'Memory', sizeLimit: '512Mi' } }, '/cache');
  }),
  nearMiss(ENC_AT_REST, 'disk scratch volume at a path that only starts like a PHI path', (m) => {
    moveScratch(m, '/cache-warmup');
  }),
  nearMiss(ENC_AT_REST, 'PVC on an encrypted class', (m) => {
    m.kubernetesManifests.push(pvc('results', 'ebs-gp3-kms'));
  }),
  nearMiss(ENC_AT_REST, 'PVC with no class where every cluster default is encrypted', (m) => {
    clusterProfile(m, 0).defaultStorageClass = 'ebs-gp3-kms';
    clusterProfile(m, 1).defaultStorageClass = 'azuredisk-premium-cmk';
    clusterProfile(m, 2).defaultStorageClass = 'pd-balanced-cmek';
    m.kubernetesManifests.push(pvc('results'));
  }),
  nearMiss(ENC_AT_REST, 'bucket encrypted with a provider-managed KMS key', (m) => {
    m.deployment.storage![1]!.encryption = 'kms-provider';
  }),
];

const tlsInTransit: ComplianceCase[] = [
  violation(TLS, 'minimum TLS version 1.1', (m) => {
    endpoint(m).tls = { minVersion: '1.1' };
  }),
  violation(TLS, 'minimum TLS version 1.0', (m) => {
    endpoint(m).tls = { minVersion: '1.0' };
  }),
  violation(TLS, 'minimum TLS version not declared', (m) => {
    delete endpoint(m).tls;
  }),
  violation(TLS, 'Gateway listener switched to plain HTTP', (m) => {
    listeners(m)[0]!.protocol = 'HTTP';
    delete listeners(m)[0]!.tls;
  }),
  violation(TLS, 'route without sectionName also uses an HTTP listener', (m) => {
    listeners(m).push({ ...HTTP_LISTENER });
    delete parentRef(m).sectionName;
  }),
  violation(TLS, 'route attached to the HTTP listener by port', (m) => {
    listeners(m).push({ ...HTTP_LISTENER });
    delete parentRef(m).sectionName;
    parentRef(m).port = 80;
  }),
  violation(TLS, 'route attached to a TCP listener', (m) => {
    listeners(m).push({ name: 'raw', protocol: 'TCP', port: 9000 });
    parentRef(m).sectionName = 'raw';
  }),
  violation(TLS, 'route names a listener the Gateway lacks', (m) => {
    parentRef(m).sectionName = 'https-internal';
  }),
  violation(TLS, 'route attached to a Gateway outside the release', (m) => {
    parentRef(m).name = 'shared-public-gateway';
  }),
  violation(TLS, 'model Ingress without TLS', (m) => {
    const ingress = modelIngress();
    delete dig(ingress, 'spec').tls;
    m.kubernetesManifests.push(ingress);
  }),
  violation(TLS, 'model Ingress TLS does not cover its second host', (m) => {
    const ingress = modelIngress();
    const rules = digList(ingress, 'spec', 'rules');
    rules.push({ ...rules[0]!, host: 'cxr-triage-legacy.example-hospital.org' });
    m.kubernetesManifests.push(ingress);
  }),
  violation(TLS, 'wildcard TLS host does not cover a two-label subdomain', (m) => {
    const ingress = modelIngress();
    digList(ingress, 'spec', 'tls')[0]!.hosts = ['*.example-hospital.org'];
    digList(ingress, 'spec', 'rules')[0]!.host = 'cxr.triage.example-hospital.org';
    m.kubernetesManifests.push(ingress);
  }),
  violation(TLS, 'model Ingress without an HTTPS-only annotation', (m) => {
    const ingress = modelIngress();
    dig(ingress, 'metadata').annotations = {};
    m.kubernetesManifests.push(ingress);
  }),
  violation(TLS, 'model Ingress redirects but explicitly allows HTTP', (m) => {
    const ingress = modelIngress();
    dig(ingress, 'metadata', 'annotations')['kubernetes.io/ingress.allow-http'] = 'true';
    m.kubernetesManifests.push(ingress);
  }),
  violation(TLS, 'model Ingress with ssl-redirect false', (m) => {
    const ingress = modelIngress();
    dig(ingress, 'metadata').annotations = { 'nginx.ingress.kubernetes.io/ssl-redirect': 'false' };
    m.kubernetesManifests.push(ingress);
  }),
  nearMiss(TLS, 'Gateway also has an HTTP listener the route does not use', (m) => {
    listeners(m).push({ ...HTTP_LISTENER });
  }),
  nearMiss(TLS, 'model Ingress with a wildcard TLS host', (m) => {
    const ingress = modelIngress();
    digList(ingress, 'spec', 'tls')[0]!.hosts = ['*.example-hospital.org'];
    m.kubernetesManifests.push(ingress);
  }),
  nearMiss(TLS, 'minimum TLS version 1.2', (m) => {
    endpoint(m).tls = { minVersion: '1.2' };
  }),
  nearMiss(TLS, 'model Ingress refusing HTTP with allow-http false', (m) => {
    const ingress = modelIngress();
    dig(ingress, 'metadata').annotations = { 'kubernetes.io/ingress.allow-http': 'false' };
    m.kubernetesManifests.push(ingress);
  }),
];

const mtlsInCluster: ComplianceCase[] = [
  violation(MTLS, 'namespace PeerAuthentication PERMISSIVE', (m) => {
    mtls(m).mode = 'PERMISSIVE';
  }),
  violation(MTLS, 'namespace PeerAuthentication DISABLE', (m) => {
    mtls(m).mode = 'DISABLE';
  }),
  violation(MTLS, 'PeerAuthentication without a mode', (m) => {
    dig(peerAuthentication(m), 'spec').mtls = {};
  }),
  violation(MTLS, 'mTLS disabled on the model port', (m) => {
    dig(peerAuthentication(m), 'spec').portLevelMtls = { 8080: { mode: 'DISABLE' } };
  }),
  violation(MTLS, 'mTLS permissive on the model port', (m) => {
    dig(peerAuthentication(m), 'spec').portLevelMtls = {
      9090: { mode: 'STRICT' },
      8080: { mode: 'PERMISSIVE' },
    };
  }),
  violation(MTLS, 'workload PeerAuthentication PERMISSIVE for the model pods', (m) => {
    m.kubernetesManifests.push(
      istioObject('PeerAuthentication', 'chest-xray-triage', {
        selector: { matchLabels: MODEL_LABELS },
        mtls: { mode: 'PERMISSIVE' },
      }),
    );
  }),
  violation(MTLS, 'workload PeerAuthentication relaxes the model port', (m) => {
    m.kubernetesManifests.push(
      istioObject('PeerAuthentication', 'chest-xray-triage', {
        selector: { matchLabels: MODEL_LABELS },
        portLevelMtls: { 8080: { mode: 'DISABLE' } },
      }),
    );
  }),
  violation(MTLS, 'no PeerAuthentication and a permissive mesh', (m) => {
    removeK8s(m, 'PeerAuthentication');
    clusterProfile(m, 0).meshMtls = 'permissive';
  }),
  violation(MTLS, 'no PeerAuthentication and no mesh on the third cluster', (m) => {
    removeK8s(m, 'PeerAuthentication');
    clusterProfile(m, 2).meshMtls = 'none';
  }),
  violation(MTLS, 'no PeerAuthentication and mesh mTLS not stated', (m) => {
    removeK8s(m, 'PeerAuthentication');
    delete clusterProfile(m, 1).meshMtls;
  }),
  violation(MTLS, 'STRICT PeerAuthentication only in an unrelated namespace, permissive mesh', (m) => {
    dig(peerAuthentication(m), 'metadata').namespace = 'radiology-tools';
    clusterProfile(m, 1).meshMtls = 'permissive';
  }),
  violation(MTLS, 'STRICT PeerAuthentication only for other pods, permissive mesh', (m) => {
    dig(peerAuthentication(m), 'spec').selector = {
      matchLabels: { 'app.kubernetes.io/name': 'dicom-router' },
    };
    clusterProfile(m, 2).meshMtls = 'permissive';
  }),
  nearMiss(MTLS, 'port-level PERMISSIVE on a port the model does not use', (m) => {
    dig(peerAuthentication(m), 'spec').portLevelMtls = { 9090: { mode: 'PERMISSIVE' } };
  }),
  nearMiss(MTLS, 'no PeerAuthentication but every mesh is strict', (m) => {
    removeK8s(m, 'PeerAuthentication');
  }),
  nearMiss(MTLS, 'extra STRICT workload PeerAuthentication for the model pods', (m) => {
    m.kubernetesManifests.push(
      istioObject('PeerAuthentication', 'chest-xray-triage', {
        selector: { matchLabels: MODEL_LABELS },
        mtls: { mode: 'STRICT' },
      }),
    );
  }),
];

export const cases: ComplianceCase[] = [
  ...noAnonEndpoint,
  ...uniqueUserId,
  ...sodApprovals,
  ...autoLogoff,
  ...encAtRest,
  ...tlsInTransit,
  ...mtlsInCluster,
];
