"""The program run offline: a stack's plan under Pulumi's mocks, its Kubernetes objects checked
against their schemas, and the policy pack against the plan (`gamemetrics infra plan`,
`gamemetrics policy check`, and the tests). Nothing here is deployed."""
