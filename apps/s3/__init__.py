"""The S3 client every service uses (boto3), built from `apps.core.settings.s3.S3Settings`."""
