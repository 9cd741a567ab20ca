"""RabbitMQ work queues for LiteFlow, so that several nodes share the workflow and event queues.

Install with the ``rabbitmq`` extra (it brings ``pika``) and pass the provider to the host::

    from liteflow.core import configure_workflow_host
    from liteflow_rabbitmq import RabbitMQQueueProvider

    host = configure_workflow_host(queue_service=RabbitMQQueueProvider("amqp://guest:guest@localhost/%2F"))
"""

from .lifecycle import RabbitMQLifecycleEventHub
from .provider import RabbitMQQueueProvider

__all__ = ["RabbitMQLifecycleEventHub", "RabbitMQQueueProvider"]
