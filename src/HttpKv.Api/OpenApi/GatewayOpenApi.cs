using System.Text.Json.Nodes;
using Google.Protobuf.Reflection;
using HttpKv.Api.Gateway;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.OpenApi;

namespace HttpKv.Api.OpenApi;

/// <summary>Describes the /v3 gateway routes in the OpenAPI document from the protobuf descriptors themselves,
/// in the gateway's JSON form: proto field names, 64-bit integers as strings, bytes as base64 strings,
/// enums by name. One schema per message, named by its full proto name (e.g. <c>etcdserverpb.RangeRequest</c>).</summary>
public static class GatewayOpenApi
{
    private const string ErrorSchemaName = "etcd.GatewayError";

    public static OpenApiOptions AddGatewaySchemas(this OpenApiOptions options)
    {
        options.AddOperationTransformer((operation, context, _) =>
        {
            var contract = context.Description.ActionDescriptor.EndpointMetadata.OfType<GatewayContract>().FirstOrDefault();
            if (contract is null || context.Document is null) return Task.CompletedTask;
            var document = context.Document;
            operation.RequestBody = new OpenApiRequestBody
            {
                Description = "The request message as JSON (any or no Content-Type is accepted, as by etcd's gateway).",
                Content = Json(MessageReference(document, contract.Request)),
            };
            operation.Responses ??= new OpenApiResponses();
            operation.Responses["200"] = new OpenApiResponse { Description = "The response message.", Content = Json(MessageReference(document, contract.Response)) };
            operation.Responses["default"] = new OpenApiResponse
            {
                Description = "An etcd error; the HTTP status follows from the gRPC code (400 InvalidArgument/OutOfRange/FailedPrecondition, 404 NotFound, 429 ResourceExhausted, 503 Unavailable, …).",
                Content = Json(ErrorReference(document)),
            };
            return Task.CompletedTask;
        });
        return options;
    }

    private static Dictionary<string, OpenApiMediaType> Json(IOpenApiSchema schema) =>
        new() { ["application/json"] = new OpenApiMediaType { Schema = schema } };

    private static IDictionary<string, IOpenApiSchema> Schemas(OpenApiDocument document)
    {
        document.Components ??= new OpenApiComponents();
        return document.Components.Schemas ??= new Dictionary<string, IOpenApiSchema>();
    }

    private static IOpenApiSchema ErrorReference(OpenApiDocument document)
    {
        var schemas = Schemas(document);
        if (!schemas.ContainsKey(ErrorSchemaName))
        {
            schemas[ErrorSchemaName] = new OpenApiSchema
            {
                Type = JsonSchemaType.Object,
                Description = "etcd 3.5's gateway error body.",
                Properties = new Dictionary<string, IOpenApiSchema>
                {
                    ["error"] = new OpenApiSchema { Type = JsonSchemaType.String, Description = "etcd's error text, e.g. \"etcdserver: key is not provided\"." },
                    ["code"] = new OpenApiSchema { Type = JsonSchemaType.Integer, Format = "int32", Description = "The gRPC status code." },
                    ["message"] = new OpenApiSchema { Type = JsonSchemaType.String, Description = "The same text as error." },
                },
            };
        }
        return new OpenApiSchemaReference(ErrorSchemaName, document);
    }

    private static IOpenApiSchema MessageReference(OpenApiDocument document, MessageDescriptor descriptor)
    {
        var schemas = Schemas(document);
        if (!schemas.ContainsKey(descriptor.FullName))
        {
            var properties = new Dictionary<string, IOpenApiSchema>();
            schemas[descriptor.FullName] = new OpenApiSchema { Type = JsonSchemaType.Object, Properties = properties };
            foreach (var field in descriptor.Fields.InFieldNumberOrder())
            {
                var single = FieldSchema(document, field);
                properties[field.Name] = field.IsRepeated ? new OpenApiSchema { Type = JsonSchemaType.Array, Items = single } : single;
            }
        }
        return new OpenApiSchemaReference(descriptor.FullName, document);
    }

    private static IOpenApiSchema FieldSchema(OpenApiDocument document, FieldDescriptor field) => field.FieldType switch
    {
        FieldType.Message => MessageReference(document, field.MessageType),
        FieldType.Bytes => new OpenApiSchema { Type = JsonSchemaType.String, Format = "byte", Description = "base64" },
        FieldType.String => new OpenApiSchema { Type = JsonSchemaType.String },
        FieldType.Bool => new OpenApiSchema { Type = JsonSchemaType.Boolean },
        FieldType.Int64 or FieldType.SInt64 or FieldType.SFixed64 =>
            new OpenApiSchema { Type = JsonSchemaType.String, Format = "int64", Description = "a 64-bit integer as a decimal string" },
        FieldType.UInt64 or FieldType.Fixed64 =>
            new OpenApiSchema { Type = JsonSchemaType.String, Format = "uint64", Description = "an unsigned 64-bit integer as a decimal string" },
        FieldType.UInt32 or FieldType.Fixed32 => new OpenApiSchema { Type = JsonSchemaType.Integer, Format = "int64", Minimum = "0" },
        FieldType.Int32 or FieldType.SInt32 or FieldType.SFixed32 => new OpenApiSchema { Type = JsonSchemaType.Integer, Format = "int32" },
        FieldType.Double or FieldType.Float => new OpenApiSchema { Type = JsonSchemaType.Number },
        FieldType.Enum => new OpenApiSchema
        {
            Type = JsonSchemaType.String,
            Enum = field.EnumType.Values.Select(value => (JsonNode)JsonValue.Create(value.Name)).ToList(),
        },
        _ => throw new InvalidOperationException($"No OpenAPI mapping for protobuf field type {field.FieldType} ({field.FullName})."),
    };
}
