"""The Docker-less local runner: serves template.yaml's API in-process, with moto as AWS.

Development-only: it lives outside the layer, so Lambda never loads it.
"""
