"""A control API client generated from proto/hijack/v1/control.proto alone, with Python grpcio.

Usage: python_client.py GENERATED_DIR ADDRESS
  GENERATED_DIR holds hijack/v1/control_pb2*.py made by protoc (--python_out, --grpc_out with
  grpc_python_plugin); ADDRESS is a gRPC target such as unix:/run/hijack.sock.
Prints one line per check and exits non-zero on the first surprise.
"""
import sys

sys.path.insert(0, sys.argv[1])

import grpc  # noqa: E402
from hijack.v1 import control_pb2, control_pb2_grpc  # noqa: E402


def main():
    with grpc.insecure_channel(sys.argv[2]) as channel:
        stub = control_pb2_grpc.ControlStub(channel)
        health = stub.Health(control_pb2.HealthRequest(), timeout=30)
        assert health.status == control_pb2.HealthResponse.SERVING, health
        print("health: SERVING pid", health.pid)
        modules = stub.ListModules(control_pb2.ListModulesRequest(), timeout=30)
        print("modules:", ",".join(m.name for m in modules.modules))
        try:
            stub.GetGuest(control_pb2.GetGuestRequest(guest_id=42), timeout=30)
            raise SystemExit("GetGuest 42 succeeded")
        except grpc.RpcError as e:
            assert e.code() == grpc.StatusCode.NOT_FOUND, e
            print("GetGuest 42:", e.code().name, e.details())
        guests = stub.ListGuests(control_pb2.ListGuestsRequest(), timeout=30)
        print("guests:", len(guests.guests))


if __name__ == "__main__":
    main()
