"""The Lambda edge, beside the capabilities: the HTTP resolver and error shape (`http`), the OpenAPI
document (`openapi`), API keys and the authorizer's check (`auth`), the operator CLI (`cli`), the console.
"""
