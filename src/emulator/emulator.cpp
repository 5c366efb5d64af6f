// STUB: replaced by the emulator work.
#include "batchcut/emulator.hpp"
#include <stdexcept>
namespace batchcut {
class Emulator::Impl {};
Emulator::Emulator(EmulatorOptions) { throw std::logic_error("todo"); }
Emulator::~Emulator() = default;
void Emulator::start() {}
void Emulator::stop() {}
std::uint16_t Emulator::port() const { return 0; }
std::string Emulator::base_url() const { return {}; }
std::string Emulator::ca_pem() const { return {}; }
EmulatorStats Emulator::stats() const { return {}; }
std::vector<EmulatorVideo> Emulator::videos() const { return {}; }
}  // namespace batchcut
