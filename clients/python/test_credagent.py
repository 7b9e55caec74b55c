"""Tests of the credagent module that need no agent: python3 -m unittest test_credagent (from this
directory). The socket-path table is the one the CLI's and the Node client's tests read."""

import json
import os
import unittest

import credagent

VECTORS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "test", "fixtures", "socket-paths.json")


class SocketPaths(unittest.TestCase):
    def test_shared_vectors(self) -> None:
        with open(VECTORS, encoding="utf-8") as f:
            cases = json.load(f)["cases"]
        self.assertGreater(len(cases), 5)
        for case in cases:
            with self.subTest(case["name"]):
                socket_path = credagent.default_socket_path(
                    case["env"],
                    platform=case["platform"],
                    uid=case["uid"],
                    username=lambda c=case: c["username"],
                    is_private_dir=lambda d, c=case: d in c["private_dirs"],
                )
                self.assertEqual(socket_path, case["socket"])
                self.assertEqual(credagent.session_token_file(socket_path, case["env"]), case["token_file"])


if __name__ == "__main__":
    unittest.main()
