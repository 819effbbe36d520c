"""AWS adapters (DynamoDB, S3, SQS): the only modules that import boto3."""
