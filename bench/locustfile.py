# Locust FastHttpUser, the product description's own tool, as fast as it goes
# (no wait time): the same POST the other generators send.
from locust import FastHttpUser, constant, task


class Payer(FastHttpUser):
    wait_time = constant(0)

    @task
    def pay(self):
        self.client.post("/payments", data='{"message_id":"m","amount_cents":100,"currency":"usd"}',
                         headers={"content-type": "application/json", "idempotency-key": "k"})
