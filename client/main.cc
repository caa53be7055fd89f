// tcp_ping_client: load and integrity client for tcp_ping_server and the proxy.
#include "client/options.h"
#include "client/runner.h"
#include "common/log.h"

int main(int argc, char** argv) {
  using namespace sp;
  log::set_program("tcp_ping_client");
  auto parsed = client::parse_command_line(argc, argv);
  if (auto* code = std::get_if<int>(&parsed)) return *code;
  const auto& options = std::get<client::Options>(parsed);
  log::set_level(log::level_for_verbosity(options.verbosity));
  return client::run(options);
}
