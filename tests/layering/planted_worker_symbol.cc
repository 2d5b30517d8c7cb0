// A planted violation for layering_symbols_planted: a worker symbol, as the coordinator's
// binary must never hold one. The nm -C check must find it in this library.
namespace llmbench::worker {

int PlantedLayeringViolation() { return 15; }

}  // namespace llmbench::worker
