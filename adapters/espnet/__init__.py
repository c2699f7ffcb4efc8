"""ESPnet glue: the ``s3prl_adapter`` frontend, the task-routing model, registration."""
