// The Delivery::Envelope message (ws/pubsub.hpp): a publication as a JSON text message that says what it is.
// Layer: ws. Sans-I/O.
//   {"topic":"news","offset":17,"data":"the published text"}
//   {"topic":"cam","offset":3,"data":"AAECAw==","encoding":"base64"}      (published binary, or text not UTF-8)
// The topic is a JSON string of the topic's bytes (surge-push only takes UTF-8 topics).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "surge/ws/opcode.hpp"

namespace surge {

std::string encode_envelope(std::string_view topic, std::uint64_t offset, std::string_view message, Opcode opcode);

}  // namespace surge
