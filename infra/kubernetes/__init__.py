"""The Kubernetes half of the deployment: every object that runs on the EKS cluster.

Components (each a ComponentResource with typed Args, using the cluster's
`pulumi_kubernetes.Provider` passed in those Args):

- `security.SecurityBaseline`: namespaces (Pod Security Standards labels), ResourceQuota,
  LimitRange, default-deny NetworkPolicies and the optional Istio mesh (STRICT mTLS).
- `storage_class.gp3_storage_class` (one object, a function): the default StorageClass (EBS
  gp3, KMS-encrypted, tagged).
- `load_balancer.LoadBalancerController`: the AWS Load Balancer Controller (Helm, IRSA, its IAM
  policy from `iam_policies/`), which turns the public services' Ingresses into the ALB.
- `streaming.Streaming`: the Strimzi operator, a KRaft Kafka cluster, KafkaTopics from
  `apps.core.topics` and a KafkaUser with ACLs per service from `apps.core.services`.
- `services.ServiceDeployment`: one per `apps.core.services.Service`, with no per-service code.
- `observability.Observability`: kube-prometheus-stack, Loki, Tempo, Alloy, a ServiceMonitor
  per service, dashboards and alerts loaded from the files beside this module.

`platform.KubernetesPlatform` creates them all, in order; `placement.NodePlacement` pins the
Kafka brokers to a reserved node group. `validate` checks the objects these declare against
the Kubernetes and CRD schemas, offline.
"""
