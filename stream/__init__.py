"""Streams feeding the incremental update (:mod:`graphsona.jobs.update`) in micro-batches:
a watched folder (:mod:`.watch`); Apache Kafka is the next consumer to come."""

from graphsona.stream.watch import FolderWatch

__all__ = ["FolderWatch"]
