//! The protobuf codec of every service: prost's, except that a request that
//! cannot be decoded is the caller's error, not the server's. Prost reports
//! it as INTERNAL; here it is INVALID_ARGUMENT naming the field, so text
//! that is not valid UTF-8 is refused like any other bad field. The
//! generated clients share the codec; a response they cannot decode stays
//! INTERNAL, as gRPC has it.

use std::marker::PhantomData;

use lienthong_domain::Error;
use prost::Message;
use tonic::Status;
use tonic::codec::{Codec, DecodeBuf, Decoder};
use tonic_prost::ProstCodec;

use super::status::to_status;

/// What prost's message for a decoding error starts with.
const DECODE_ERROR_PREFIX: &str = "failed to decode Protobuf message: ";

#[derive(Debug, Clone)]
pub struct LienthongCodec<T, U> {
    prost: ProstCodec<T, U>,
}

impl<T, U> Default for LienthongCodec<T, U> {
    fn default() -> Self {
        Self {
            prost: ProstCodec::default(),
        }
    }
}

impl<T, U> Codec for LienthongCodec<T, U>
where
    T: Message + Send + 'static,
    U: Message + Default + Send + 'static,
{
    type Encode = T;
    type Decode = U;
    type Encoder = <ProstCodec<T, U> as Codec>::Encoder;
    type Decoder = FieldReportingDecoder<U>;

    fn encoder(&mut self) -> Self::Encoder {
        self.prost.encoder()
    }

    fn decoder(&mut self) -> Self::Decoder {
        FieldReportingDecoder(PhantomData)
    }
}

#[derive(Debug)]
pub struct FieldReportingDecoder<U>(PhantomData<U>);

impl<U: Message + Default> Decoder for FieldReportingDecoder<U> {
    type Item = U;
    type Error = Status;

    fn decode(&mut self, buffer: &mut DecodeBuf<'_>) -> Result<Option<U>, Status> {
        decode_message(buffer).map(Some)
    }
}

/// Decodes a message; a request that cannot be decoded is INVALID_ARGUMENT,
/// anything else INTERNAL.
fn decode_message<U: Message + Default>(buffer: impl prost::bytes::Buf) -> Result<U, Status> {
    U::decode(buffer).map_err(|error| {
        // Servers decode requests, clients responses; the contract names
        // every request message `…Request` (buf's RPC_REQUEST_STANDARD_NAME).
        if std::any::type_name::<U>().ends_with("Request") {
            to_status(undecodable(&error.to_string()))
        } else {
            Status::internal(error.to_string())
        }
    })
}

/// The field a prost decoding error names, as a path from the top message
/// ("matched.text"), and what is wrong with it. Prost writes the fields
/// innermost first, `Message.field: ` each, before the description.
fn undecodable(message: &str) -> Error {
    let mut rest = message.strip_prefix(DECODE_ERROR_PREFIX).unwrap_or(message);
    let mut fields = Vec::new();
    while let Some((segment, after)) = rest.split_once(": ")
        && let Some((message_name, field)) = segment.split_once('.')
        && is_identifier(message_name)
        && is_identifier(field.trim_start_matches("r#"))
    {
        fields.push(field.trim_start_matches("r#"));
        rest = after;
    }
    fields.reverse();
    let field = if fields.is_empty() {
        "message".to_owned()
    } else {
        fields.join(".")
    };
    Error::invalid(field, format!("cannot be decoded: {rest}"))
}

fn is_identifier(text: &str) -> bool {
    !text.is_empty()
        && text
            .chars()
            .all(|character| character.is_ascii_alphanumeric() || character == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field_and_description(message: &str) -> (String, String) {
        match undecodable(message) {
            Error::InvalidArgument(violations) => {
                let violation = violations.into_iter().next().expect("one violation");
                (violation.field, violation.description)
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_field_path_runs_from_the_top_message() {
        assert_eq!(
            field_and_description(
                "failed to decode Protobuf message: SubmitRecommendationRequest.text: \
                 invalid string value: data is not UTF-8 encoded"
            ),
            (
                "text".to_owned(),
                "cannot be decoded: invalid string value: data is not UTF-8 encoded".to_owned()
            )
        );
        assert_eq!(
            field_and_description("failed to decode Protobuf message: invalid varint"),
            (
                "message".to_owned(),
                "cannot be decoded: invalid varint".to_owned()
            )
        );
    }

    /// A request with a list of items, each a choice of text or number, as
    /// `SubmitReportRequest.values` holds indicator values.
    #[derive(Clone, PartialEq, Message)]
    struct ChoicesRequest {
        #[prost(message, repeated, tag = "1")]
        items: Vec<Item>,
    }

    #[derive(Clone, PartialEq, Message)]
    struct Item {
        #[prost(oneof = "Choice", tags = "2, 3")]
        choice: Option<Choice>,
    }

    #[derive(Clone, PartialEq, prost::Oneof)]
    enum Choice {
        #[prost(string, tag = "2")]
        Text(String),
        #[prost(int64, tag = "3")]
        Number(i64),
    }

    /// The same on the wire, with the text as raw bytes.
    #[derive(Clone, PartialEq, Message)]
    struct RawChoices {
        #[prost(message, repeated, tag = "1")]
        items: Vec<RawItem>,
    }

    #[derive(Clone, PartialEq, Message)]
    struct RawItem {
        #[prost(bytes = "vec", tag = "2")]
        text: Vec<u8>,
    }

    #[test]
    fn prost_errors_name_the_field_from_the_top_message() {
        let encoded = RawChoices {
            items: vec![RawItem {
                text: vec![0x66, 0xff, 0x66],
            }],
        }
        .encode_to_vec();
        let error = ChoicesRequest::decode(encoded.as_slice()).expect_err("not UTF-8");
        // Prost names a oneof by its field, not by the variant.
        assert_eq!(field_and_description(&error.to_string()).0, "items.choice");
    }

    #[test]
    fn only_requests_are_the_callers_fault() {
        let encoded = RawChoices {
            items: vec![RawItem { text: vec![0xff] }],
        }
        .encode_to_vec();
        let request = decode_message::<ChoicesRequest>(encoded.as_slice()).expect_err("bad");
        assert_eq!(request.code(), tonic::Code::InvalidArgument);
        let response =
            decode_message::<Item>(RawItem { text: vec![0xff] }.encode_to_vec().as_slice()).expect_err("bad");
        assert_eq!(response.code(), tonic::Code::Internal);
    }
}
